// Unqualified tables: the schema is the connection's search_path.

diesel::table! {
    groups (id) {
        id -> Text,
        cancel_job -> Bool,
        create_sample -> Bool,
        manage_users -> Bool,
        modify_hmm -> Bool,
        modify_settings -> Bool,
        modify_subtraction -> Bool,
        modify_virus -> Bool,
        rebuild_index -> Bool,
        remove_file -> Bool,
        remove_job -> Bool,
        remove_virus -> Bool,
        upload_file -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        password_hash -> Text,
        force_reset -> Bool,
        last_password_change -> Timestamptz,
        primary_group -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (user_id, group_id) {
        user_id -> Text,
        group_id -> Text,
    }
}

diesel::table! {
    reset_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> groups (group_id));
diesel::joinable!(reset_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(groups, users, memberships, reset_codes);

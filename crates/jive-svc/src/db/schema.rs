// Unqualified tables: the schema is the connection's search_path.

diesel::table! {
    orgs (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        org_id -> Text,
        first_name -> Text,
        last_name -> Text,
        email_address -> Text,
        password_hash -> Text,
        active -> Bool,
        access_key -> Text,
        user_permissions -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(users -> orgs (org_id));
diesel::allow_tables_to_appear_in_same_query!(orgs, users);

// Unqualified tables: the schema is the connection's search_path.

diesel::table! {
    partners (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        password_hash -> Text,
        permissions -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (partner_id, user_id) {
        partner_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(memberships -> partners (partner_id));
diesel::joinable!(memberships -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(partners, users, memberships);

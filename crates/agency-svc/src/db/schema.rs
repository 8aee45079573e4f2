// Unqualified tables: the schema is the connection's search_path.

diesel::table! {
    agency_groups (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    agencies (id) {
        id -> Int8,
        agency_group_id -> Int8,
        name -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        agency_id -> Int8,
        firstname -> Text,
        lastname -> Nullable<Text>,
        email -> Text,
        phone -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        agency_group_id -> Int8,
        name -> Text,
        secret_hash -> Text,
        revoked -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(agencies -> agency_groups (agency_group_id));
diesel::joinable!(users -> agencies (agency_id));
diesel::joinable!(api_clients -> agency_groups (agency_group_id));
diesel::allow_tables_to_appear_in_same_query!(agency_groups, agencies, users, api_clients);

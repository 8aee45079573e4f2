# Tyk dashboard `tyk_analytics_users` documents (mongoexport, relaxed extended JSON) → jive-svc
# import lines. The ObjectId and the access key are kept: API clients keep working.
{id: ._id["$oid"], org_id: .orgid, first_name: .firstname, last_name: .lastname,
 email_address: .emailaddress, active: (if .active == null then true else .active end), access_key: .accesskey,
 user_permissions: (.user_permissions // {}), created_at: (.created_at["$date"]? // null)}
+ (if (.password // "") != "" then {password_hash: .password} else {} end)

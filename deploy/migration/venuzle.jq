# Venuzle (Laravel) `users` rows with their `partner_user` ids → partner-svc import lines.
def utc: if . == null then null else sub("\\.[0-9]+$"; "") | sub(" "; "T") + "Z" end;
{id, first_name, last_name, email, permissions: (.permissions // []), partners: .partner_ids,
 created_at: (.created_at | utc), updated_at: (.updated_at | utc)}
+ (if .password then {password_hash: .password} else {} end)

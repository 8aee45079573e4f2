# IM4 (Laravel) `users` rows → agency-svc import lines. Laravel writes its DATETIME columns in
# the application's time zone as "Y-m-d H:i:s" (MySQL prints ".000000" after them): UTC assumed.
def utc: if . == null then null else sub("\\.[0-9]+$"; "") | sub(" "; "T") + "Z" end;
{id, agency_id, firstname, lastname, email, phone,
 created_at: (.created_at | utc), updated_at: (.updated_at | utc)}
+ (if .password then {password_hash: .password} else {} end)

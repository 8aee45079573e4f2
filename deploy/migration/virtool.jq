# Virtool `users` documents (mongoexport, relaxed extended JSON) → virtool-svc import lines.
# Python's bcrypt stored the hash as bytes: mongoexport prints them as base64 BSON binary.
{id: ._id, groups: (.groups // []), primary_group: (.primary_group // ""),
 force_reset: (.force_reset // false),
 last_password_change: (.last_password_change["$date"]? // null)}
+ (if .password then
     {password_hash: (.password | if type == "object" then .["$binary"].base64 | @base64d else . end)}
   else {} end)

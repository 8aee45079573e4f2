DROP TRIGGER users_count_update ON users;
DROP TRIGGER users_count_delete ON users;
DROP TRIGGER users_count_insert ON users;
DROP FUNCTION users_count_update();
DROP FUNCTION users_count_delete();
DROP FUNCTION users_count_insert();
DROP FUNCTION user_counts_add(TEXT[], BIGINT[]);
DROP TABLE user_counts;

DROP TRIGGER memberships_count_update ON memberships;
DROP TRIGGER memberships_count_delete ON memberships;
DROP TRIGGER memberships_count_insert ON memberships;
DROP FUNCTION memberships_count_update();
DROP FUNCTION memberships_count_delete();
DROP FUNCTION memberships_count_insert();
DROP FUNCTION user_counts_add(BIGINT[], BIGINT[]);
DROP TABLE user_counts;

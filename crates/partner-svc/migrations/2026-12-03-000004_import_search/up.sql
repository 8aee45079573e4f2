-- A membership that arrives with its search text skips the copy: `admin import` writes a
-- million memberships of users it inserted (or updated) in the same transaction, and
-- computes each text from the row it wrote, so there is nothing to wait for and nothing to
-- read back. Without the copy, the row-by-row SELECT … FOR SHARE of each user took about 20 s
-- of a million-user import. Everything else inserts memberships without a text (the column's
-- default, ''), and is copied as before.
DROP TRIGGER memberships_copy_search ON memberships;
CREATE TRIGGER memberships_copy_search BEFORE INSERT ON memberships
FOR EACH ROW WHEN (NEW.search = '')
EXECUTE FUNCTION memberships_copy_search();

DROP TRIGGER memberships_copy_search ON memberships;
CREATE TRIGGER memberships_copy_search BEFORE INSERT ON memberships
FOR EACH ROW EXECUTE FUNCTION memberships_copy_search();

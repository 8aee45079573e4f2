DROP TABLE reset_codes;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE groups;

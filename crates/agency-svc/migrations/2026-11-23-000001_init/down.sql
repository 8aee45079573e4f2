DROP TABLE api_clients;
DROP TABLE users;
DROP TABLE agencies;
DROP TABLE agency_groups;

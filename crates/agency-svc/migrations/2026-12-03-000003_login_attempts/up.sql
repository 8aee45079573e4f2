-- Failed-login throttling shared by every replica (user_core::throttle; common.md). One row per
-- counter: scope 1 = an account at an address (key "<account> <address>"), 2 = an address,
-- 3 = an account over all addresses (only with LOGIN_MAX_FAILURES_PER_ACCOUNT). An attempt is
-- counted before its password is checked; a success gives it back. Expired windows are pruned
-- by later attempts (window_start).
CREATE TABLE login_attempts (
    scope        smallint    NOT NULL,
    key          text        NOT NULL,
    window_start timestamptz NOT NULL,
    attempts     integer     NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX login_attempts_window_start ON login_attempts (window_start);

#!/usr/bin/env python3
"""Secrets scan (issue 8, item 7); run by scripts/scan-secrets, which starts the services.

  scan-secrets.py drive  ENV_DIR OUT agency=URL jive=URL partner=URL virtool=URL
      An end-to-end pass over every operation of the four APIs (tokens and logins, good and
      bad; users created, read, listed, updated, password changes and resets, groups,
      deletions; forged and foreign credentials; the plumbing endpoints), recording every
      response (status, headers, body) to OUT/responses.jsonl and every secret it knows or
      was given to OUT/secrets.json.
  scan-secrets.py scan   OUT LOG...
      Scans every recorded response and every line of the LOG files.
  scan-secrets.py har    ENV_DIR HAR...
      Scans the responses schemathesis recorded (scripts/fuzz-api): no bcrypt hash or
      env-file secret anywhere, JWTs only in a token field, jive keys only in `access_key`.
  scan-secrets.py logs   ENV_DIR LOG...
      Scans log files only, for the env files' secrets, bcrypt hashes and JWTs (used by
      scripts/fuzz-api on the logs of thousands of fuzzed requests).

What may appear where (anything else is a hit):
  - an issued JWT: only in the body of the response that issued it, in the field the
    contract names (agency `access_token`, partner `data.access_token`, virtool `token`);
  - a jive access key: only as the `access_key` field of a jive user JSON;
  - a virtool reset code: only in the `reset_code` field of the login answer that issued it.
  The audit trail is scanned too: the four feeds are read to the end at the end of the pass (as
  responses), and scripts/scan-secrets adds each service's `admin events` output and a dump of
  its `audit_events` table to the files scanned (as logs).
  Never, anywhere (bodies, headers, log lines): a bcrypt hash ($2a$/$2b$/$2y$), a password
  (bootstrap or set by the pass), the agency client secret, a JWT signing secret (JWT_SECRET of
  each env file), and in the logs additionally no JWT-shaped string at all, no access key and
  no reset code.
Only the standard library; only 127.0.0.1.
"""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

BCRYPT = re.compile(r"\$2[abxy]\$\d\d\$[./A-Za-z0-9]{20,}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def env_file(path):
    """KEY -> value of an env file in compose's env-file syntax, read by scripts/lib.sh's
    read_env_file (the reader scripts/stack uses; never as shell code)."""
    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib.sh")
    out = subprocess.run(
        ["bash", "-c", '. "$1" && print_env_file "$2"', "env_file", lib, path],
        check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
    return dict(pair.split("=", 1) for pair in out.split("\0") if pair)


class Recorder:
    def __init__(self, out):
        self.out = open(f"{out}/responses.jsonl", "w", encoding="utf-8")
        self.count = 0
        self.secrets = set()  # never anywhere
        self.log_only = set()  # never in logs; in responses only where allowed

    def call(self, service, method, url, body=None, headers=None, raw=None, allow=None):
        """One request; `allow` names (json path, value) pairs the answer may carry."""
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("content-type", "application/json")
        req = urllib.request.Request(url, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                status, rheaders, text = res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as e:
            status, rheaders, text = e.code, dict(e.headers), e.read()
        text = text.decode("utf-8", "replace")
        self.count += 1
        record = {
            "service": service,
            "method": method,
            "url": url,
            "status": status,
            "headers": rheaders,
            "body": text,
            "allow": allow or [],
        }
        self.out.write(json.dumps(record) + "\n")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return status, parsed, rheaders


def pick(value, path):
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def drive(env_dir, out, bases):
    rec = Recorder(out)
    envs = {s: env_file(f"{env_dir}/{s}.env") for s in ("agency", "jive", "partner", "virtool")}
    for e in envs.values():
        for k in ("JWT_SECRET", "BOOTSTRAP_CLIENT_SECRET", "BOOTSTRAP_ADMIN_PASSWORD"):
            if e.get(k):
                rec.secrets.add(e[k])
    forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJzdWIiOiJmb3JnZWQtc3ViamVjdCJ9.c2lnbmF0dXJlLWZvcmdlZA"
    rec.log_only.add(forged)

    def issued(token):
        if token:
            rec.log_only.add(token)
        return token

    # ------------------------------------------------------------------ agency
    a, e = bases["agency"], envs["agency"]
    cid, csecret = e["BOOTSTRAP_CLIENT_ID"], e["BOOTSTRAP_CLIENT_SECRET"]
    _, body, _ = rec.call("agency", "POST", f"{a}/oauth/token",
                          {"grant_type": "client_credentials", "client_id": cid, "client_secret": csecret},
                          allow=[["access_token"]])
    token = issued(pick(body, ["access_token"]))
    form = f"grant_type=client_credentials&client_id={cid}&client_secret={csecret}".encode()
    _, body, _ = rec.call("agency", "POST", f"{a}/oauth/token", raw=form,
                          headers={"content-type": "application/x-www-form-urlencoded"},
                          allow=[["access_token"]])
    issued(pick(body, ["access_token"]))
    for secret in ("wrong-secret-0123456789", csecret + "x"):
        rec.call("agency", "POST", f"{a}/oauth/token",
                 {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    rec.call("agency", "POST", f"{a}/oauth/token",
             {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": csecret})
    rec.call("agency", "POST", f"{a}/oauth/token", {"grant_type": "password", "client_id": cid,
                                                    "client_secret": csecret})
    auth = {"authorization": f"Bearer {token}"}
    rec.call("agency", "GET", f"{a}/agencies", headers=auth)
    p1, p2 = "agency-scan-password-1", "agency-scan-password-2"
    rec.secrets.update([p1, p2])
    _, user, _ = rec.call("agency", "POST", f"{a}/agency/1/user",
                          {"firstname": "Scan", "lastname": "User", "email": "scan@example.com",
                           "new_password": p1, "new_password_confirmation": p1}, headers=auth)
    uid = pick(user, ["id"])
    rec.call("agency", "POST", f"{a}/agency/1/user",
             {"firstname": "Scan", "email": "scan2@example.com", "new_password": p1,
              "new_password_confirmation": p2}, headers=auth)
    rec.call("agency", "POST", f"{a}/agency/1/user",
             {"firstname": "Dup", "email": "scan@example.com", "new_password": p1,
              "new_password_confirmation": p1}, headers=auth)
    rec.call("agency", "GET", f"{a}/agency/1/user/{uid}", headers=auth)
    rec.call("agency", "GET", f"{a}/agency/1/users", headers=auth)
    rec.call("agency", "PATCH", f"{a}/agency/1/user/{uid}",
             {"new_password": p2, "new_password_confirmation": p2, "phone": "+47 1"}, headers=auth)
    rec.call("agency", "PATCH", f"{a}/agency/1/user/{uid}", {"new_password": "short"}, headers=auth)
    rec.call("agency", "DELETE", f"{a}/agency/1/user/{uid}", headers=auth)
    rec.call("agency", "GET", f"{a}/agency/1/user/{uid}", headers=auth)
    for bad in (f"Bearer {forged}", f"Bearer {token}x", "Bearer garbage", token):
        rec.call("agency", "GET", f"{a}/agencies", headers={"authorization": bad})

    # ------------------------------------------------------------------ jive
    j, e = bases["jive"], envs["jive"]
    key = e["BOOTSTRAP_ADMIN_ACCESS_KEY"]
    rec.log_only.add(key)
    admin = {"authorization": key}
    allow_keys = [["access_key"], ["*", "access_key"], ["users", "*", "access_key"]]
    _, users, _ = rec.call("jive", "GET", f"{j}/api/users", headers=admin, allow=allow_keys)
    p3, p4 = "jive-scan-password-3", "jive-scan-password-4"
    rec.secrets.update([p3, p4])
    _, _, headers = rec.call("jive", "POST", f"{j}/api/users",
                             {"first_name": "Scan", "last_name": "User", "email_address": "scan@example.com",
                              "password": p3, "user_permissions": {"users": "read"}}, headers=admin)
    location = headers.get("Location") or headers.get("location") or ""
    jid = location.rsplit("/", 1)[-1]
    _, juser, _ = rec.call("jive", "GET", f"{j}/api/users/{jid}", headers=admin, allow=allow_keys)
    user_key = pick(juser, ["access_key"])
    if user_key:
        rec.log_only.add(user_key)
    rec.call("jive", "GET", f"{j}/api/users", headers=admin, allow=allow_keys)
    rec.call("jive", "PUT", f"{j}/api/users/{jid}", {"first_name": "Changed", "password": p4,
                                                     "access_key": "0" * 32}, headers=admin,
             allow=allow_keys)
    rec.call("jive", "POST", f"{j}/api/users/{jid}/actions/reset", {"new_password": p4}, headers=admin)
    rec.call("jive", "POST", f"{j}/api/users/{jid}/actions/reset", {"new_password": "short"}, headers=admin)
    if user_key:
        user = {"authorization": user_key}
        rec.call("jive", "GET", f"{j}/api/users/{jid}", headers=user, allow=allow_keys)
        rec.call("jive", "GET", f"{j}/api/users", headers=user, allow=allow_keys)
        rec.call("jive", "POST", f"{j}/api/users", {"email_address": "x@example.com"}, headers=user)
        rec.call("jive", "GET", f"{j}/api/users/{jid}", headers={"authorization": f"Bearer {user_key}"},
                 allow=allow_keys)
    for bad in (key + "0", "f" * 32, f"Bearer {forged}", ""):
        rec.call("jive", "GET", f"{j}/api/users", headers={"authorization": bad})
    rec.call("jive", "DELETE", f"{j}/api/users/{jid}", headers=admin)
    if user_key:
        rec.call("jive", "GET", f"{j}/api/users", headers={"authorization": user_key})

    # ------------------------------------------------------------------ partner
    p, e = bases["partner"], envs["partner"]
    login = f"{p}/api/internal/v1/auth/login"
    _, body, _ = rec.call("partner", "POST", login,
                          {"email": e["BOOTSTRAP_ADMIN_EMAIL"], "password": e["BOOTSTRAP_ADMIN_PASSWORD"]},
                          allow=[["data", "access_token"]])
    ptoken = issued(pick(body, ["data", "access_token"]))
    pauth = {"authorization": f"Bearer {ptoken}"}
    for bad in (e["BOOTSTRAP_ADMIN_PASSWORD"] + "x", "wrong-password-1"):
        rec.call("partner", "POST", login, {"email": e["BOOTSTRAP_ADMIN_EMAIL"], "password": bad})
    rec.call("partner", "POST", login, {"email": "nobody@example.com", "password": e["BOOTSTRAP_ADMIN_PASSWORD"]})
    p5, p6 = "partner-scan-password-5", "partner-scan-password-6"
    rec.secrets.update([p5, p6])
    users_url = f"{p}/api/internal/v1/partners/1/users"
    _, body, _ = rec.call("partner", "POST", users_url,
                          {"first_name": "Scan", "last_name": "User", "email": "scan@example.com",
                           "password": p5, "permissions": ["users.read"]}, headers=pauth)
    pid = pick(body, ["data", "id"])
    _, body, _ = rec.call("partner", "POST", login, {"email": "scan@example.com", "password": p5},
                          allow=[["data", "access_token"]])
    utoken = issued(pick(body, ["data", "access_token"]))
    rec.call("partner", "GET", f"{users_url}/{pid}", headers=pauth)
    rec.call("partner", "GET", f"{users_url}?search=scan", headers=pauth)
    rec.call("partner", "GET", f"{users_url}/{pid}/partners", headers=pauth)
    rec.call("partner", "PUT", f"{users_url}/{pid}",
             {"new_password": p6, "new_password_confirmation": p6}, headers=pauth)
    rec.call("partner", "PUT", f"{users_url}/{pid}",
             {"new_password": p6, "new_password_confirmation": p5}, headers=pauth)
    rec.call("partner", "GET", users_url, headers={"authorization": f"Bearer {utoken}"})
    rec.call("partner", "POST", users_url, {"first_name": "X", "last_name": "Y", "email": "y@example.com",
                                            "password": p5}, headers={"authorization": f"Bearer {utoken}"})
    for bad in (f"Bearer {forged}", f"Bearer {ptoken}x", ptoken):
        rec.call("partner", "GET", users_url, headers={"authorization": bad})
    rec.call("partner", "DELETE", f"{users_url}/{pid}", headers=pauth)
    rec.call("partner", "GET", users_url, headers={"authorization": f"Bearer {utoken}"})

    # ------------------------------------------------------------------ virtool
    v, e = bases["virtool"], envs["virtool"]
    _, body, _ = rec.call("virtool", "POST", f"{v}/api/account/login",
                          {"username": e["BOOTSTRAP_ADMIN_USER"], "password": e["BOOTSTRAP_ADMIN_PASSWORD"]},
                          allow=[["token"]])
    vtoken = issued(pick(body, ["token"]))
    vauth = {"authorization": f"Bearer {vtoken}"}
    rec.call("virtool", "POST", f"{v}/api/account/login",
             {"username": e["BOOTSTRAP_ADMIN_USER"], "password": "wrong-password-1"})
    rec.call("virtool", "POST", f"{v}/api/account/login",
             {"username": "nobody", "password": e["BOOTSTRAP_ADMIN_PASSWORD"]})
    rec.call("virtool", "GET", f"{v}/api/account", headers=vauth)
    p7, p8, p9 = "virtool-scan-password-7", "virtool-scan-password-8", "virtool-scan-password-9"
    rec.secrets.update([p7, p8, p9])
    rec.call("virtool", "POST", f"{v}/api/users", {"user_id": "scan-user", "password": p7}, headers=vauth)
    rec.call("virtool", "POST", f"{v}/api/users", {"user_id": "scan-user", "password": p7}, headers=vauth)
    _, body, _ = rec.call("virtool", "POST", f"{v}/api/account/login",
                          {"username": "scan-user", "password": p7}, allow=[["reset_code"]])
    code = pick(body, ["reset_code"])
    if code:
        rec.log_only.add(code)
    rec.call("virtool", "POST", f"{v}/api/account/reset", {"password": p8, "reset_code": "not-a-code"})
    _, body, _ = rec.call("virtool", "POST", f"{v}/api/account/reset", {"password": p8, "reset_code": code},
                          allow=[["token"]])
    stoken = issued(pick(body, ["token"]))
    rec.call("virtool", "POST", f"{v}/api/account/reset", {"password": p8, "reset_code": code})
    rec.call("virtool", "GET", f"{v}/api/account", headers={"authorization": f"Bearer {stoken}"})
    rec.call("virtool", "POST", f"{v}/api/groups", {"group_id": "scan-group"}, headers=vauth)
    rec.call("virtool", "PATCH", f"{v}/api/groups/scan-group", {"permissions": {"modify_hmm": True}},
             headers=vauth)
    rec.call("virtool", "POST", f"{v}/api/users/scan-user/groups", {"group_id": "scan-group"}, headers=vauth)
    rec.call("virtool", "PATCH", f"{v}/api/users/scan-user",
             {"password": p9, "primary_group": "scan-group", "force_reset": False}, headers=vauth)
    rec.call("virtool", "GET", f"{v}/api/users/scan-user", headers=vauth)
    rec.call("virtool", "GET", f"{v}/api/users", headers=vauth)
    rec.call("virtool", "GET", f"{v}/api/groups", headers=vauth)
    rec.call("virtool", "GET", f"{v}/api/account", headers={"authorization": f"Bearer {stoken}"})
    rec.call("virtool", "DELETE", f"{v}/api/users/scan-user/groups/scan-group", headers=vauth)
    rec.call("virtool", "DELETE", f"{v}/api/groups/scan-group", headers=vauth)
    for bad in (f"Bearer {forged}", f"Bearer {vtoken}x", vtoken):
        rec.call("virtool", "GET", f"{v}/api/users", headers={"authorization": bad})
    rec.call("virtool", "DELETE", f"{v}/api/users/scan-user", headers=vauth)

    # ------------------------------------------------------------------ the audit feeds
    # Every event the pass above wrote, as each feed answers it (all pages): no password, hash,
    # client secret, access key, reset code or token may be in one.
    feeds = (("agency", f"{a}/events", auth), ("jive", f"{j}/api/events", admin),
             ("partner", f"{p}/api/internal/v1/partners/1/events", pauth),
             ("virtool", f"{v}/api/events", vauth))
    events = 0
    for service, url, headers in feeds:
        after = 0
        while True:
            status, body, _ = rec.call(service, "GET", f"{url}?after={after}&limit=1000", headers=headers)
            page = (body or {}).get("events") if status == 200 and isinstance(body, dict) else None
            if page is None:
                print(f"scan: the {service} feed answered {status}", file=sys.stderr)
                return 1
            events += len(page)
            if not page:
                break
            after = body["next_after"]
    if events == 0:
        print("scan: the feeds hold no event", file=sys.stderr)
        return 1

    # ------------------------------------------------------------------ plumbing, every service
    for service, base in bases.items():
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nowhere"):
            rec.call(service, "GET", f"{base}{path}")

    rec.out.close()
    with open(f"{out}/secrets.json", "w", encoding="utf-8") as f:
        json.dump({"never": sorted(s for s in rec.secrets if s),
                   "log_only": sorted(s for s in rec.log_only if s)}, f)
    missing = [n for n, t in (("agency token", token), ("jive user key", user_key),
                              ("partner token", ptoken), ("virtool token", vtoken),
                              ("virtool reset code", code), ("virtool reset token", stoken)) if not t]
    if missing:
        print(f"scan: the pass did not get {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"scan: {rec.count} requests driven, {events} audit events read from the feeds")
    return 0


def strip_allowed(value, path, allowed_values):
    """Removes the allowed field at `path` ('*' = every element) when its value is allowed."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, list):
            return [strip_allowed(v, rest, allowed_values) for v in value]
        return value
    if not isinstance(value, dict) or head not in value:
        return value
    if not rest:
        if value[head] in allowed_values:
            value = dict(value)
            value[head] = "<allowed>"
        return value
    value = dict(value)
    value[head] = strip_allowed(value[head], rest, allowed_values)
    return value


BYTE_LIST = re.compile(r"\[(\d{1,3}(?:, \d{1,3})+)\]")


def log_views(line):
    """Other readings of a log line a secret could hide in: the line's JSON string values
    unescaped, and every list of byte values (how database drivers print parameters)
    decoded as UTF-8."""
    views = []
    try:
        stack = [json.loads(line)]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)
            elif isinstance(v, str):
                views.append(v)
    except ValueError:
        pass
    for m in BYTE_LIST.finditer(line):
        numbers = [int(x) for x in m.group(1).split(", ")]
        if all(x < 256 for x in numbers):
            views.append(bytes(numbers).decode("utf-8", "replace"))
    return views


def scan(out, logs):
    with open(f"{out}/secrets.json", encoding="utf-8") as f:
        secrets = json.load(f)
    never, log_only = secrets["never"], secrets["log_only"]
    hits = []
    responses = 0
    with open(f"{out}/responses.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            responses += 1
            where = f"{r['method']} {r['url']} -> {r['status']}"
            body = r["body"]
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if parsed is not None:
                for path in r["allow"]:
                    parsed = strip_allowed(parsed, path, set(log_only))
                body = json.dumps(parsed)
            text = body + "\n" + json.dumps(r["headers"])
            for s in never + log_only:
                if s in text:
                    hits.append(f"response {where}: a secret ({s[:6]}…)")
            if BCRYPT.search(text):
                hits.append(f"response {where}: a bcrypt hash")
            if JWT.search(text):
                hits.append(f"response {where}: a JWT where none may be")
    lines = 0
    for log in logs:
        with open(log, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                lines += 1
                text = "\n".join([line, *log_views(line)])
                for s in never + log_only:
                    if s in text:
                        hits.append(f"{log}:{n}: a secret ({s[:6]}…)")
                if BCRYPT.search(text):
                    hits.append(f"{log}:{n}: a bcrypt hash")
                if JWT.search(text):
                    hits.append(f"{log}:{n}: a JWT")
    for h in hits[:50]:
        print(f"HIT {h}")
    print(f"secrets scan: {responses} responses and {lines} log lines scanned for "
          f"{len(never) + len(log_only)} known secrets, bcrypt hashes and JWTs: {len(hits)} hits")
    return 1 if hits else 0


def extra_secrets():
    """More secrets, one per line, from the file named by SCAN_EXTRA_SECRETS (the scripts put
    every jive access key of the database there before dropping it)."""
    path = os.environ.get("SCAN_EXTRA_SECRETS")
    if not path:
        return set()
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def scan_logs(env_dir, logs):
    """Logs only (scripts/fuzz-api): the env files' secrets, bcrypt hashes and JWTs."""
    never = set()
    for s in ("agency", "jive", "partner", "virtool"):
        e = env_file(f"{env_dir}/{s}.env")
        for k in ("JWT_SECRET", "BOOTSTRAP_CLIENT_SECRET", "BOOTSTRAP_ADMIN_PASSWORD",
                  "BOOTSTRAP_ADMIN_ACCESS_KEY"):
            if e.get(k):
                never.add(e[k])
    never |= extra_secrets()
    hits, lines = [], 0
    for log in logs:
        with open(log, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                lines += 1
                text = "\n".join([line, *log_views(line)])
                if any(s in text for s in never):
                    hits.append(f"{log}:{n}: a secret of the env file")
                if BCRYPT.search(text):
                    hits.append(f"{log}:{n}: a bcrypt hash")
                if JWT.search(text):
                    hits.append(f"{log}:{n}: a JWT")
    for h in hits[:50]:
        print(f"HIT {h}")
    print(f"secrets scan of debug logs ({len(logs)} files): {lines} lines, {len(never)} known "
          f"secrets, bcrypt hashes and JWTs: {len(hits)} hits")
    return 1 if hits else 0


TOKEN_FIELDS = [["access_token"], ["data", "access_token"], ["token"]]
KEY_FIELDS = [["access_key"], ["*", "access_key"], ["users", "*", "access_key"]]


def scan_har(env_dir, hars):
    """Responses recorded by schemathesis (HAR): no bcrypt hash or env-file secret anywhere;
    JWTs only in a token field of a JSON body, jive access keys only in `access_key` fields."""
    never, keys = set(), set()
    for s in ("agency", "jive", "partner", "virtool"):
        e = env_file(f"{env_dir}/{s}.env")
        for k in ("JWT_SECRET", "BOOTSTRAP_CLIENT_SECRET", "BOOTSTRAP_ADMIN_PASSWORD"):
            if e.get(k):
                never.add(e[k])
        if e.get("BOOTSTRAP_ADMIN_ACCESS_KEY"):
            keys.add(e["BOOTSTRAP_ADMIN_ACCESS_KEY"])
    keys |= extra_secrets()
    hits, responses = [], 0
    for har in hars:
        with open(har, encoding="utf-8") as f:
            entries = json.load(f)["log"]["entries"]
        for entry in entries:
            res = entry.get("response") or {}
            responses += 1
            where = f"{entry['request']['method']} {entry['request']['url'][:120]} -> {res.get('status')}"
            body = (res.get("content") or {}).get("text") or ""
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if parsed is not None:
                tokens = set()
                for path in TOKEN_FIELDS:
                    value = pick(parsed, path)
                    if isinstance(value, str) and JWT.fullmatch(value):
                        tokens.add(value)
                for path in TOKEN_FIELDS:
                    parsed = strip_allowed(parsed, path, tokens)
                for path in KEY_FIELDS:
                    parsed = strip_allowed(parsed, path, keys)
                body = json.dumps(parsed)
            text = body + "\n" + json.dumps(res.get("headers") or [])
            if any(s in text for s in never | keys):
                hits.append(f"{har}: {where}: a secret of the env files")
            if BCRYPT.search(text):
                hits.append(f"{har}: {where}: a bcrypt hash")
            if JWT.search(text):
                hits.append(f"{har}: {where}: a JWT outside a token field")
    for h in hits[:50]:
        print(f"HIT {h}")
    print(f"secrets scan of the fuzzed responses: {responses} responses, {len(never | keys)} "
          f"known secrets, bcrypt hashes and JWTs: {len(hits)} hits")
    return 1 if hits else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "har":
        return scan_har(argv[2], argv[3:])
    if len(argv) >= 3 and argv[1] == "logs":
        return scan_logs(argv[2], argv[3:])
    if len(argv) >= 3 and argv[1] == "drive":
        bases = dict(a.split("=", 1) for a in argv[4:])
        return drive(argv[2], argv[3], bases)
    if len(argv) >= 3 and argv[1] == "scan":
        return scan(argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Offline checks of the SAM template, for dev/sam-check.sh (no AWS account, no Docker).

Run with the venv's python3 (it imports the SAM CLI and the SAM translator), from the
repository root:

    python3 dev/sam_check.py transform template.yaml
        Step 4. Expands Fn::ForEach (AWS::LanguageExtensions), then runs the SAM transform once per
        ProtectMeWith value (None, JwtAuthorizer, LambdaAuthorizer) and checks the result: an
        authorizer on GET /api/me only and exactly the one chosen, the authorizer's invoke
        permission exactly when it is used, no circular reference between resources (cfn-lint
        does not follow references inside the HttpApi body), and for every function its own
        role and log group, the role allowed nothing but writing that log group and reading the
        secret (kms:Decrypt too when KmsKeyArn is set). Then the session table: its declaration
        (partition key h, TTL on ttl, SSE, point-in-time recovery, on-demand, the two sparse
        KEYS_ONLY indexes by_provider_sid on psid and by_subject on subj, deleted with the
        stack), and for Sessions=On with the table created or given, and Sessions=Off: the
        table exactly when created, SESSION_TABLE in every function exactly when on, and each
        role's DynamoDB statements exactly those of SESSION_TABLE_POLICY: its actions, on the
        table or the named indexes, under the stated conditions (dynamodb:Attributes,
        dynamodb:Select, dynamodb:LeadingKeys); none for the others, none at all when off. And
        that this check bites: every statement of those policies with a condition dropped or
        widened, an action or a resource added, fails it.

    python3 dev/sam_check.py functions template.yaml
        Step 5. Every rust-cargolambda function of the template has its crate at CodeUri with a
        binary named like BuildProperties.Binary. Prints their logical ids on stdout (sam build
        puts each in .aws-sam/build/<logical id>/), one per line, and the details on stderr.

    python3 dev/sam_check.py elf FILE
        Step 7. FILE is an aarch64 ELF executable.

Each exits 0 when its checks pass, 1 when one fails (saying which), 2 on a usage error.
"""

import copy
import json
import logging
import re
import struct
import sys
import tomllib
from pathlib import Path

# Required parameters get fake values; CloudFormation hands a CommaDelimitedList over as a list.
PARAMS = {
    "OidcIssuer": "https://example-org.okta.com/oauth2/default",
    "OidcClientId": "0oaEXAMPLE",
    "SpaRedirectUri": "https://app.example.com/callback",
    "SessionIssuer": "https://api.example.com",
    "SessionAudience": "https://api.example.com",
    "AllowedOrigins": ["https://app.example.com"],
}
# The other way to hold the secret: an existing one, encrypted with a customer managed key.
EXISTING_SECRET = {
    "ExistingSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:spa-login-AbCdEf",
    "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000",
}
SCHEME = {
    "JwtAuthorizer": "SessionJwt",
    "LambdaAuthorizer": "SessionAuthorizer",
    "LambdaAuthorizerCookie": "SessionCookieAuthorizer",
}
# What the REQUEST authorizer's answer is cached by: the credential itself (and, for the cookie,
# X-CSRF, since the cache key holds no method), never anything a user shares with others.
IDENTITY = {
    "LambdaAuthorizer": ["$request.header.Authorization"],
    "LambdaAuthorizerCookie": ["$request.header.Cookie", "$request.header.X-CSRF"],
}
# The session table: Sessions on (table created, or an existing one given) and off.
EXISTING_TABLE = {"ExistingSessionTable": "spa-login-sessions"}
SESSIONS_OFF = {"Sessions": "Off"}
# What each function's role may do on the session table with Sessions=On (binary name: its
# statements); a function not listed may do nothing there. A statement is (actions, resources,
# condition): resources "table" (the table's ARN) or "index/<name>" (that index's), condition as
# the policy must state it, None for none. The role's DynamoDB statements must be exactly these,
# in any order: a statement or condition dropped, widened or added fails the check.
# dynamodb:Attributes always lists the key h (DynamoDB refuses a request whose key attributes the
# list leaves out); dynamodb:Select refuses a read without a projection, which names only the key
# and so would pass dynamodb:Attributes while returning the whole item.
PROJECTION_ONLY = {"StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}
DELETES_ONLY = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["h"]}}
TTL_ONLY = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["h", "ttl"]}, **PROJECTION_ONLY}
TABLE = ["table"]
SESSION_TABLE_POLICY = {
    "callback": [
        # A new session.
        ({"dynamodb:PutItem"}, TABLE, None),
        # SESSION_MAX_PER_USER: the user's keys from by_subject (a KEYS_ONLY index), their login
        # times and nothing else, deletes of the oldest.
        ({"dynamodb:Query"}, ["index/by_subject"], None),
        (
            {"dynamodb:BatchGetItem"},
            TABLE,
            {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["h", "created"]}, **PROJECTION_ONLY},
        ),
        ({"dynamodb:BatchWriteItem"}, TABLE, DELETES_ONLY),
    ],
    "logout": [
        # The whole session (its refresh token, to revoke it); deletes.
        ({"dynamodb:GetItem", "dynamodb:DeleteItem"}, TABLE, None),
        ({"dynamodb:BatchWriteItem"}, TABLE, DELETES_ONLY),
        # Back-channel logout and Universal Logout: a used token's record (for Universal
        # Logout also the digest of the user it named and whether its run is pending), and no
        # other item.
        (
            {"dynamodb:PutItem"},
            TABLE,
            {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["logout-token *"]},
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["h", "ttl", "s", "p"]},
            },
        ),
        # The sessions of a provider session, of a user or of a verified e-mail.
        (
            {"dynamodb:Query"},
            ["index/by_provider_sid", "index/by_subject", "index/by_email"],
            None,
        ),
        # GET /api/sessions: what a listing shows, no tokens and no user claims.
        (
            {"dynamodb:BatchGetItem"},
            TABLE,
            {
                "ForAllValues:StringEquals": {
                    "dynamodb:Attributes": ["h", "prov", "created", "used", "dev", "ttl"]
                },
                **PROJECTION_ONLY,
            },
        ),
    ],
    "refresh": [({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, TABLE, None)],
    # An API in `provider` mode: the refresh function's path.
    "proxy": [({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, TABLE, None)],
    # SESSION_CHECK=strict: is the JWT's session live? Its ttl, nothing more.
    "me": [({"dynamodb:GetItem"}, TABLE, TTL_ONLY)],
    "authorizer": [({"dynamodb:GetItem"}, TABLE, TTL_ONLY)],
}
# The SessionTable resource as template.yaml must declare it (dev/session_table.py creates the
# local table from the same Properties).
SESSION_TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Condition": "CreateSessionTable",
    "DeletionPolicy": "Delete",
    "UpdateReplacePolicy": "Delete",
    "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "psid", "AttributeType": "S"},
            {"AttributeName": "subj", "AttributeType": "S"},
            {"AttributeName": "mail", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_provider_sid",
                "KeySchema": [{"AttributeName": "psid", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "by_subject",
                "KeySchema": [{"AttributeName": "subj", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "by_email",
                "KeySchema": [{"AttributeName": "mail", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    },
}
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


def load(path):
    """The template as the SAM CLI parses it (short-form intrinsics become their long form)."""
    from samcli.yamlhelper import yaml_parse

    with open(path) as f:
        return yaml_parse(f.read())


def expand_language_extensions(template):
    """The template with its Fn::ForEach loops expanded as the AWS::LanguageExtensions transform
    does before the SAM transform, by the SAM CLI's own ForEach processor, and nothing else
    resolved: every other intrinsic (Fn::If, Ref, Fn::Sub...) stays for the checks below to see,
    as CloudFormation would. Then, in the expanded resources, what that transform resolves itself:
    a plain Fn::Sub naming the resource of a Fn::GetAtt or Ref, and Fn::FindInMap with literal
    keys. AWS::LanguageExtensions is then taken out of Transform, as the transform itself does
    once it has run. A template without that transform comes back as it is."""
    transforms = template.get("Transform") or []
    transforms = [transforms] if isinstance(transforms, str) else list(transforms)
    if LANGUAGE_EXTENSIONS not in transforms:
        return template
    from samcli.lib.cfn_language_extensions.models import ResolutionMode, TemplateProcessingContext
    from samcli.lib.cfn_language_extensions.processors import ForEachProcessor, TemplateParsingProcessor

    context = TemplateProcessingContext(
        fragment=copy.deepcopy(template), resolution_mode=ResolutionMode.PARTIAL
    )
    TemplateParsingProcessor().process_template(context)
    # No intrinsic resolver: the collections are literal lists.
    ForEachProcessor().process_template(context)
    out = context.fragment
    mappings = out.get("Mappings", {})

    def plain_sub(x):
        return (
            isinstance(x, dict)
            and set(x) == {"Fn::Sub"}
            and isinstance(x["Fn::Sub"], str)
            and "${" not in x["Fn::Sub"]
        )

    def walk(x):
        if isinstance(x, list):
            return [walk(i) for i in x]
        if not isinstance(x, dict):
            return x
        x = {k: walk(v) for k, v in x.items()}
        if set(x) == {"Fn::FindInMap"}:
            keys = x["Fn::FindInMap"]
            if len(keys) == 3 and all(isinstance(k, str) for k in keys):
                return mappings[keys[0]][keys[1]][keys[2]]
        if set(x) == {"Fn::GetAtt"} and isinstance(x["Fn::GetAtt"], list):
            name, *rest = x["Fn::GetAtt"]
            if plain_sub(name):
                return {"Fn::GetAtt": [name["Fn::Sub"], *rest]}
        if set(x) == {"Ref"} and plain_sub(x["Ref"]):
            return {"Ref": x["Ref"]["Fn::Sub"]}
        return x

    out["Resources"] = walk(out["Resources"])
    out["Transform"] = [t for t in transforms if t != LANGUAGE_EXTENSIONS]
    if len(out["Transform"]) == 1:
        out["Transform"] = out["Transform"][0]
    return out


def resolve(template, values):
    """The resources that exist for these parameter values, with every Fn::If decided and
    AWS::NoValue dropped; other intrinsics are left as they are."""
    params_def = template["Parameters"]

    def param(name):
        v = values.get(name, params_def[name].get("Default"))
        if params_def[name]["Type"] == "CommaDelimitedList" and isinstance(v, str):
            return v.split(",")
        return v

    conditions, decided = template.get("Conditions", {}), {}

    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            return param(x["Ref"])
        if isinstance(x, dict) and "Fn::Join" in x:
            return x["Fn::Join"][0].join(value(x["Fn::Join"][1]))
        return x

    def truth(c):
        ((k, v),) = c.items()
        return {
            "Fn::Equals": lambda: value(v[0]) == value(v[1]),
            "Fn::Not": lambda: not truth(v[0]),
            "Fn::And": lambda: all(map(truth, v)),
            "Fn::Or": lambda: any(map(truth, v)),
            "Condition": lambda: cond(v),
        }[k]()

    def cond(name):
        if name not in decided:
            decided[name] = truth(conditions[name])
        return decided[name]

    gone = object()

    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"Fn::If"}:
                name, yes, no = x["Fn::If"]
                return walk(yes if cond(name) else no)
            if x == {"Ref": "AWS::NoValue"}:
                return gone
            return {k: w for k, w in ((k, walk(v)) for k, v in x.items()) if w is not gone}
        if isinstance(x, list):
            return [w for w in map(walk, x) if w is not gone]
        return x

    return {
        k: walk(v)
        for k, v in template["Resources"].items()
        if "Condition" not in v or cond(v["Condition"])
    }


def cycles(template):
    """Circular references (Ref, GetAtt, ${...} of Sub, DependsOn) in every Fn::If branch,
    self-references included: CloudFormation refuses them all."""
    resources = template["Resources"]

    def refs(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "Ref" and isinstance(v, str):
                    yield v
                elif k == "Fn::GetAtt":
                    yield v.split(".")[0] if isinstance(v, str) else v[0]
                elif k == "Fn::Sub":
                    text, names = (v, {}) if isinstance(v, str) else (v[0], v[1])
                    for m in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        if m.split(".")[0] not in names:
                            yield m.split(".")[0]
                    yield from refs(names)
                else:
                    yield from refs(v)
        elif isinstance(x, list):
            for i in x:
                yield from refs(i)

    graph = {}
    for name, r in resources.items():
        d = r.get("DependsOn", [])
        deps = set(refs(r.get("Properties", {}))) | set([d] if isinstance(d, str) else d)
        graph[name] = sorted(x for x in deps if x in resources)
    found, state = [], {}

    def visit(n, path):
        state[n] = "open"
        for d in graph[n]:
            if state.get(d) == "open":
                found.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[n] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return found


def sub_text(x):
    """A Fn::Sub as one string, its literal variables put in (["/a/${n}", {"n": "b"}] -> "/a/b")."""
    if not (isinstance(x, dict) and set(x) == {"Fn::Sub"}):
        return None
    v = x["Fn::Sub"]
    if isinstance(v, str):
        return v
    text, names = v
    for k, w in names.items():
        if isinstance(w, str):
            text = text.replace("${" + k + "}", w)
    return text


def own_role_and_log_group(variants, binaries):
    """For every function, whether in each variant (resources resolved for parameter values, and
    those values) it has a role and a log group of its own, the log group named
    /aws/lambda/<stack>/<binary>, and a role that lets Lambda write that log group and read the
    secret, kms:Decrypt on it only when KmsKeyArn is set, and nothing else: [(ok, what)]."""

    def ref(x, key):
        return x.get(key) if isinstance(x, dict) else None

    def ok_in(res, values, name):
        secret = {"Ref": "ExistingSecretArn"} if values.get("ExistingSecretArn") else {"Ref": "Secret"}
        functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
        p = functions[name]["Properties"]
        role_name = (ref(p.get("Role"), "Fn::GetAtt") or [None])[0]
        log_name = ref((p.get("LoggingConfig") or {}).get("LogGroup"), "Ref")
        others = [v["Properties"] for k, v in functions.items() if k != name]
        shared = any(
            (ref(o.get("Role"), "Fn::GetAtt") or [None])[0] == role_name
            or ref((o.get("LoggingConfig") or {}).get("LogGroup"), "Ref") == log_name
            for o in others
        )
        role, log = res.get(role_name, {}), res.get(log_name, {})
        statements = [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": {"Fn::GetAtt": [log_name, "Arn"]},
            },
            {"Sid": "ReadTheSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret},
        ]
        if values.get("Tracing") == "Active":
            statements.append(
                {
                    "Sid": "WriteTraces",
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": "*",
                }
            )
        if values.get("KmsKeyArn"):
            statements.append(
                {
                    "Sid": "DecryptTheSecret",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": {"Ref": "KmsKeyArn"},
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
                            "kms:EncryptionContext:SecretARN": secret,
                        }
                    },
                }
            )
        rp, lp = role.get("Properties", {}), log.get("Properties", {})
        policies = rp.get("Policies", [])
        return (
            role.get("Type") == "AWS::IAM::Role"
            and log.get("Type") == "AWS::Logs::LogGroup"
            and not shared
            and sub_text(lp.get("LogGroupName")) == f"/aws/lambda/${{AWS::StackName}}/{binaries[name]}"
            and lp.get("RetentionInDays") == {"Ref": "LogRetentionDays"}
            and rp.get("AssumeRolePolicyDocument", {}).get("Statement")
            == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
            and set(rp) == {"Description", "AssumeRolePolicyDocument", "Policies"}
            and len(policies) == 1
            and policies[0].get("PolicyName") == binaries[name]
            and policies[0].get("PolicyDocument", {}).get("Statement") == statements
        ), (role_name, log_name)

    results = []
    for name in binaries:
        checked = [ok_in(res, values, name) for res, values in variants]
        role_name, log_name = checked[0][1]
        results.append(
            (
                all(ok for ok, _ in checked),
                f"{name}: own role {role_name} and log group {log_name} (/aws/lambda/<stack>/"
                f"{binaries[name]}); the role writes it and reads the secret, kms:Decrypt only with KmsKeyArn, "
                "X-Ray writes only with Tracing=Active",
            )
        )
    return results


def listed(x):
    return x if isinstance(x, list) else [x]


def role_statements(res, role):
    """Every policy statement that applies to `role` in resolved resources `res`: its inline
    Policies, and the AWS::IAM::RolePolicy / AWS::IAM::Policy resources naming it."""
    p = res.get(role, {}).get("Properties", {})
    docs = [pol.get("PolicyDocument", {}) for pol in p.get("Policies", [])]
    for r in res.values():
        rp = r.get("Properties", {})
        if r["Type"] == "AWS::IAM::RolePolicy" and rp.get("RoleName") == {"Ref": role}:
            docs.append(rp.get("PolicyDocument", {}))
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in rp.get("Roles", []):
            docs.append(rp.get("PolicyDocument", {}))
    return [st for d in docs for st in d.get("Statement", [])]


def touches_dynamodb(st):
    """Whether statement `st` may allow (or deny) a DynamoDB action: one named, a wildcard, or
    a NotAction (everything but)."""
    return "NotAction" in st or any(
        str(a).lower().startswith("dynamodb") or str(a) == "*"
        for a in listed(st.get("Action"))
    )


def canonical_statement(st):
    """Statement `st` in a form that compares equal exactly when it allows the same thing:
    actions and resources as sets, every condition value as a sorted list ("x" and ["x"] are one
    value in IAM). The rest but Sid is kept as it is: the Effect, and a NotResource or a
    Principal, which make it differ."""
    condition = {
        op: {key: sorted(json.dumps(v) for v in listed(values)) for key, values in keys.items()}
        for op, keys in (st.get("Condition") or {}).items()
    }
    rest = {k: v for k, v in st.items() if k not in ("Sid", "Action", "Resource", "Condition")}
    return json.dumps(
        {
            "actions": sorted(listed(st.get("Action"))),
            "resources": sorted(json.dumps(r, sort_keys=True) for r in listed(st.get("Resource"))),
            "condition": condition,
            "rest": rest,
        },
        sort_keys=True,
    )


def wanted_statements(binary, arn):
    """The statements SESSION_TABLE_POLICY gives `binary`, with `arn(name)` the ARN of "table"
    or "index/<name>"."""
    out = []
    for actions, resources, condition in SESSION_TABLE_POLICY.get(binary, []):
        st = {"Effect": "Allow", "Action": sorted(actions), "Resource": [arn(r) for r in resources]}
        if condition is not None:
            st["Condition"] = condition
        out.append(st)
    return out


def session_statements_ok(res, role, want):
    """Whether the DynamoDB statements of `role` in resolved resources `res` are exactly `want`
    (as a multiset, order aside): (ok, the statements found)."""
    found = [st for st in role_statements(res, role) if touches_dynamodb(st)]
    return sorted(map(canonical_statement, found)) == sorted(map(canonical_statement, want)), found


def session_table_checks(source, out, binaries):
    """The session table's declaration in the (expanded) source template, and in the transformed
    template `out`, for Sessions=On (created, or existing) and Off: the table, SESSION_TABLE, and
    every function's DynamoDB statements (actions, resources and conditions) exactly those of
    SESSION_TABLE_POLICY. Then that this comparison bites: each statement of the policies with a
    condition dropped, a condition value, an action or a resource added must fail it.
    [(ok, what)]."""
    results = []
    declared = source["Resources"].get("SessionTable")
    results.append(
        (
            declared == SESSION_TABLE,
            "SessionTable: on-demand, key h (S), TTL on ttl, SSE, point-in-time recovery, sparse "
            "KEYS_ONLY indexes by_provider_sid (psid) and by_subject (subj), deleted with the stack"
            + ("" if declared == SESSION_TABLE else f"; declared: {json.dumps(declared)}"),
        )
    )
    unknown = sorted(set(SESSION_TABLE_POLICY) - set(binaries.values()))
    results.append((not unknown, f"every function of SESSION_TABLE_POLICY is in the template: {unknown or 'yes'}"))

    existing = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingSessionTable}"

    def created_arn(r):
        return {"Fn::GetAtt": ["SessionTable", "Arn"]} if r == "table" else {"Fn::Sub": "${SessionTable.Arn}/" + r}

    def existing_arn(r):
        return {"Fn::Sub": existing} if r == "table" else {"Fn::Sub": existing + "/" + r}

    variants = [
        ("Sessions=On, table created", dict(PARAMS), {"Ref": "SessionTable"}, created_arn),
        ("Sessions=On, existing table", dict(PARAMS, **EXISTING_TABLE), {"Ref": "ExistingSessionTable"}, existing_arn),
        ("Sessions=Off", dict(PARAMS, **SESSIONS_OFF), None, None),
    ]
    for label, values, env, arn in variants:
        res = resolve(out, values)
        table = [k for k, v in res.items() if v["Type"] == "AWS::DynamoDB::Table"]
        should = ["SessionTable"] if env == {"Ref": "SessionTable"} else []
        results.append((table == should, f"{label}: DynamoDB tables {table or 'none'}"))
        functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
        for name, binary in sorted(binaries.items()):
            p = functions[name]["Properties"]
            variables = (p.get("Environment") or {}).get("Variables") or {}
            got_env = variables.get("SESSION_TABLE")
            role = (p.get("Role") or {}).get("Fn::GetAtt", [None])[0]
            want = wanted_statements(binary, arn) if env else []
            same, found = session_statements_ok(res, role, want)
            ok = got_env == env and same
            summary = "; ".join(
                f"{'+'.join(sorted(a))} on {', '.join(r)}" + (f" if {json.dumps(c)}" if c else "")
                for a, r, c in (SESSION_TABLE_POLICY.get(binary, []) if env else [])
            )
            results.append(
                (
                    ok,
                    f"{label}: {binary} SESSION_TABLE={json.dumps(got_env)}, DynamoDB statements exactly: "
                    + (summary or "none")
                    + ("" if same else f"; found {json.dumps(found)}"),
                )
            )

    # The comparison above catches a policy made wider or a condition lost: every statement of
    # the session table policies, changed one way at a time, must fail it.
    values, arn = dict(PARAMS), created_arn
    res = resolve(out, values)
    functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    tried, missed = 0, []
    for name, binary in sorted(binaries.items()):
        role = (functions[name]["Properties"].get("Role") or {}).get("Fn::GetAtt", [None])[0]
        want = wanted_statements(binary, arn)
        for key, r in res.items():
            rp = r.get("Properties", {})
            if r["Type"] != "AWS::IAM::RolePolicy" or rp.get("RoleName") != {"Ref": role}:
                continue
            for i, st in enumerate(rp["PolicyDocument"]["Statement"]):
                if not touches_dynamodb(st):
                    continue
                changes = [
                    ("an action added", lambda s: s.update(Action=listed(s["Action"]) + ["dynamodb:Scan"])),
                    ("a resource added", lambda s: s.update(Resource=listed(s["Resource"]) + ["*"])),
                ]
                for op, keys in (st.get("Condition") or {}).items():
                    changes.append((f"its {op} dropped", lambda s, op=op: s["Condition"].pop(op)))
                    for k in keys:
                        changes.append(
                            (
                                f"{k} widened with *",
                                lambda s, op=op, k=k: s["Condition"][op].update({k: listed(s["Condition"][op][k]) + ["*"]}),
                            )
                        )
                if st.get("Condition"):
                    changes.append(("its Condition dropped", lambda s: s.pop("Condition")))
                for what, change in changes:
                    changed = copy.deepcopy(res)
                    change(changed[key]["Properties"]["PolicyDocument"]["Statement"][i])
                    tried += 1
                    if session_statements_ok(changed, role, want)[0]:
                        missed.append(f"{key} statement {st.get('Sid', i)}: {what}")
    results.append(
        (
            tried > 0 and not missed,
            f"the statement check fails for each of {tried} widenings of the session table policies"
            + (f"; not for: {missed}" if missed else ""),
        )
    )
    return results


def rust_functions(template):
    """{logical id: resource} of the template's rust-cargolambda functions."""
    return {
        name: r
        for name, r in template.get("Resources", {}).items()
        if r.get("Type") == "AWS::Serverless::Function"
        and (r.get("Metadata") or {}).get("BuildMethod") == "rust-cargolambda"
    }


def check_transform(path):
    from samtranslator.translator.transform import transform

    logging.getLogger("samtranslator").setLevel(logging.ERROR)

    class NoManagedPolicies:
        def load(self):
            return {}

    source = expand_language_extensions(load(path))
    binaries = {
        name: (r.get("Metadata", {}).get("BuildProperties") or {}).get("Binary")
        for name, r in rust_functions(source).items()
    }
    # As sam validate does: a local CodeUri becomes an S3 location for the translator.
    for r in source["Resources"].values():
        if r.get("Type") == "AWS::Serverless::Function":
            r["Properties"]["CodeUri"] = "s3://bucket/key"

    problems = []

    def check(ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what)
        if not ok:
            problems.append(what)

    for mode in ["None", "JwtAuthorizer", "LambdaAuthorizer", "LambdaAuthorizerCookie"]:
        values = dict(PARAMS, ProtectMeWith=mode)
        out = transform(copy.deepcopy(source), values, NoManagedPolicies())
        res = resolve(out, values)
        body = res["HttpApi"]["Properties"]["Body"]
        routes = sorted(f"{m.upper()} {p}" for p, item in body["paths"].items() for m in item)
        print(f"ProtectMeWith={mode}: {len(res)} resources, routes: {', '.join(routes)}")
        loops = cycles(out)
        check(not loops, "no circular reference" + "".join(f"; {' -> '.join(c)}" for c in loops))
        if mode == "None":
            # Roles and log groups do not depend on ProtectMeWith: checked once, for both ways
            # of holding the secret (created by the stack; existing, with a KMS key, and then
            # with X-Ray tracing on too).
            with_kms = dict(values, **EXISTING_SECRET, Tracing="Active")
            variants = [(res, values), (resolve(out, with_kms), with_kms)]
            for ok, what in own_role_and_log_group(variants, binaries):
                check(ok, what)
            for ok, what in session_table_checks(source, out, binaries):
                check(ok, what)
        secured = {
            f"{m.upper()} {p}": op["security"]
            for p, item in body["paths"].items()
            for m, op in item.items()
            if isinstance(op, dict) and "security" in op
        }
        schemes = (body.get("components") or {}).get("securitySchemes") or {}
        invoke = [
            k
            for k, v in res.items()
            if v["Type"] == "AWS::Lambda::Permission"
            and v["Properties"]["FunctionName"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
        ]
        if mode == "None":
            check(not secured, "no route has an authorizer" + (f": {secured}" if secured else ""))
            check(not schemes, "no authorizer" + (f": {list(schemes)}" if schemes else ""))
            check(not invoke, "no invoke permission for the authorizer" + (f": {invoke}" if invoke else ""))
            continue
        name = SCHEME[mode]
        check(secured == {"GET /api/me": [{name: []}]}, f"{name} on GET /api/me only: {secured}")
        check(list(schemes) == [name], f"one authorizer, {name}: {list(schemes)}")
        az = schemes.get(name, {}).get("x-amazon-apigateway-authorizer", {})
        if mode == "JwtAuthorizer":
            # The parameters, which CloudFormation resolves; never the API's own URL.
            check(
                az.get("type") == "jwt"
                and az.get("identitySource") == "$request.header.Authorization"
                and az.get("jwtConfiguration")
                == {"issuer": {"Ref": "SessionIssuer"}, "audience": [{"Ref": "SessionAudience"}]},
                "JWT authorizer: Authorization header, issuer SessionIssuer, audience SessionAudience",
            )
            check(not invoke, "no invoke permission for the authorizer" + (f": {invoke}" if invoke else ""))
        else:
            check(
                az.get("type") == "request"
                and az.get("authorizerPayloadFormatVersion") == "2.0"
                and az.get("enableSimpleResponses") is True
                and az.get("authorizerResultTtlInSeconds") == 60
                and az.get("identitySource") == IDENTITY[mode]
                and "${AuthorizerFunction.Arn}" in json.dumps(az.get("authorizerUri")),
                f"REQUEST authorizer: AuthorizerFunction, payload 2.0, simple responses, cached 60 s per {IDENTITY[mode]} (no longer than the shortest SessionTtlSeconds)",
            )
            p = res[invoke[0]]["Properties"] if len(invoke) == 1 else {}
            check(
                p.get("Principal") == "apigateway.amazonaws.com"
                and p.get("Action") == "lambda:InvokeFunction"
                and "${HttpApi}/authorizers/*" in json.dumps(p.get("SourceArn")),
                f"apigateway may invoke AuthorizerFunction for this API's authorizers: {invoke}",
            )
    return 1 if problems else 0


def check_functions(path):
    bad = False
    for name, res in rust_functions(expand_language_extensions(load(path))).items():
        binary = (res["Metadata"].get("BuildProperties") or {}).get("Binary")
        crate = Path(str(res.get("Properties", {}).get("CodeUri", "")))
        bins = []
        if (crate / "Cargo.toml").is_file():
            manifest = tomllib.loads((crate / "Cargo.toml").read_text())
            bins = [b.get("name") for b in manifest.get("bin", [])] or [manifest.get("package", {}).get("name")]
        if not binary or binary not in bins:
            print(f"{name}: CodeUri {crate} has no binary {binary!r} ({bins or 'no Cargo.toml'})", file=sys.stderr)
            bad = True
        else:
            print(f"  {name:<20} {crate}  bin {binary}", file=sys.stderr)
            print(name)
    return 1 if bad else 0


def check_elf(path):
    # ELF header: magic 7f 45 4c 46, class 2 (64-bit), data 1 (little-endian), e_type 2 (EXEC) or
    # 3 (DYN, position-independent), e_machine 0xb7 (183, AArch64) at offset 18.
    with open(path, "rb") as f:
        h = f.read(20)
    ok = (
        len(h) == 20
        and h[:4] == b"\x7fELF"
        and h[4] == 2
        and h[5] == 1
        and struct.unpack_from("<H", h, 16)[0] in (2, 3)
        and struct.unpack_from("<H", h, 18)[0] == 0xB7
    )
    if not ok:
        print(f"{path}: header {h.hex(' ')}", file=sys.stderr)
    return 0 if ok else 1


COMMANDS = {"transform": check_transform, "functions": check_functions, "elf": check_elf}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        print(f"usage: python3 {sys.argv[0]} {{{'|'.join(COMMANDS)}}} FILE", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2]))

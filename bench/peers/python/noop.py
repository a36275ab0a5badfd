"""The Python peer's runtime alone (bench/coldstart's `noop`): awslambdaric with a handler that
imports nothing and answers at once, so the harness can say what the runtime itself costs."""


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}

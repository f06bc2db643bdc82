"""The SAM template the twin's protocol tests serve, with stand-in handlers instead of litelens's:
EchoFunction answers with the event, its import-time environment and the request id (or fails, or
sleeps, as the path asks), ImageFunction is an image function, BrokenFunction fails to import.
tests/integration/conftest.py writes it (``template_dir``) and serves it (``twin``)."""

from __future__ import annotations

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
  Flag: {Type: String, Default: "on", AllowedValues: ["on", "off"]}
  Stage: {Type: String, Default: test}
Conditions:
  FlagOn: !Equals [!Ref Flag, "on"]
Globals:
  Function:
    Environment:
      Variables:
        GREETING: !Ref Greeting
        MODE: !If [FlagOn, !Sub "${Greeting}-on", ""]
        REGION_SEEN: !Sub "${AWS::Region}"
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.lambda_handler
      Runtime: python3.12
      MemorySize: 384
      Timeout: 1
      Environment:
        Variables:
          WHO: echo
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /echo, Method: post}}
        Item: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: get}}
        Boom: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /boom, Method: get}}
        Bad: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /bad, Method: get}}
        Slow: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /slow, Method: get}}
  ImageFunction:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageConfig:
        Command: ["app.lambda_handler"]
      Environment:
        Variables:
          WHO: image
      Events:
        Image: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /image, Method: get}}
    Metadata:
      DockerContext: .
      Dockerfile: img/Dockerfile
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: broken/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Broken: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /broken, Method: get}}
"""

ECHO_HANDLER = """\
import json, os, threading, time
IMPORT_ENV = {k: os.environ.get(k) for k in ("GREETING", "MODE", "WHO", "REGION_SEEN")}
SEEN = {"active": 0, "max": 0}
GUARD = threading.Lock()

def lambda_handler(event, context):
    if event.get("path") == "/slow":  # how many invocations ever ran at once
        with GUARD:
            SEEN["active"] += 1
            SEEN["max"] = max(SEEN["max"], SEEN["active"])
        time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0.002)))
        with GUARD:
            SEEN["active"] -= 1
        return {"statusCode": 200, "body": json.dumps(SEEN)}
    if "httpMethod" not in event:  # direct invocation
        if event.get("raise"):
            raise ValueError("asked to raise")
        return {"echo": event, "memory": context.memory_limit_in_mb, "function": context.function_name}
    if event["path"] == "/boom":
        raise RuntimeError("boom")
    if event["path"] == "/bad":
        return "not a proxy response"
    body = {"event": event, "import_env": IMPORT_ENV, "request_id": context.aws_request_id}
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]}, "body": json.dumps(body)}
"""

IMAGE_HANDLER = """\
import json, os
WHO = os.environ.get("WHO")

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"who": WHO, "module": __name__})}
"""

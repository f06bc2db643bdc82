"""Environment variable names read by the Lambda functions, with their defaults.

The one place these names are spelled. ``template.yaml`` sets them under ``Globals``; the local
twin reads the same template. ``settings.Settings.from_env`` reads them, once per cold start.
"""

from __future__ import annotations

# Where the model bundle lives: a local folder, or s3://bucket/prefix. Empty: the bundle packaged
# with the function (PACKAGED_BUNDLE_DIR, relative to the function's code root).
MODEL_URI = "MODEL_URI"
PACKAGED_BUNDLE_DIR = "bundle"
# Where an S3 bundle is downloaded to (reused on warm starts).
MODEL_CACHE_DIR = "LITELENS_MODEL_CACHE_DIR"
MODEL_CACHE_DIR_DEFAULT = "/tmp/litelens-bundles"
# The public key (PEM, or base64 DER) that must have signed the bundle's card (template parameter
# BundleSigningPublicKey; `litelens publish --sign-key` prints it). Empty: signatures are not checked.
SIGNING_PUBLIC_KEY = "LITELENS_SIGNING_PUBLIC_KEY"
# Rollback protection (template parameter BundleMinPublishedAt): the earliest signed publish time served,
# a UTC time like 2025-06-01T12:00:00Z (`litelens publish --sign-key` prints the one it signed). A bundle
# signed earlier, or by a signature with no time (litelens.signature/1), fails the init, unless MODEL_URI
# pins its version folder (.../versions/<version>). Needs SIGNING_PUBLIC_KEY. Empty: any publish time.
MIN_PUBLISHED_AT = "LITELENS_MIN_PUBLISHED_AT"

# Access-Control-Allow-Origin sent with every response; empty disables CORS headers.
CORS_ORIGIN = "LITELENS_CORS_ORIGIN"
CORS_ORIGIN_DEFAULT = "*"

# Request caps (bad input gets a 4xx naming the cap, never a 5xx).
MAX_INSTANCES = "LITELENS_MAX_INSTANCES"
MAX_INSTANCES_DEFAULT = 10_000
MAX_BODY_BYTES = "LITELENS_MAX_BODY_BYTES"
MAX_BODY_BYTES_DEFAULT = 6 * 1024 * 1024
# The most bytes an answer may have (Lambda's synchronous response payload limit, 6 MB, as its runtime
# counts it): a request whose answer could be larger is a 413 response_too_large (functions/common/answer_size.py).
MAX_RESPONSE_BYTES = "LITELENS_MAX_RESPONSE_BYTES"
MAX_RESPONSE_BYTES_DEFAULT = 6 * 1024 * 1024

# Explain-only caps.
MAX_EXPLAIN_INSTANCES = "LITELENS_MAX_EXPLAIN_INSTANCES"
MAX_EXPLAIN_INSTANCES_DEFAULT = 20
MAX_SHAP_NSAMPLES = "LITELENS_MAX_SHAP_NSAMPLES"
MAX_SHAP_NSAMPLES_DEFAULT = 10_000
MAX_LIME_NUM_SAMPLES = "LITELENS_MAX_LIME_NUM_SAMPLES"
MAX_LIME_NUM_SAMPLES_DEFAULT = 10_000
# The time one explain request may take, in seconds, estimated before the work (400 over_budget when
# over). Unset: half the invocation's time limit (functions/explain/budget.py).
EXPLAIN_BUDGET_SECONDS = "LITELENS_EXPLAIN_BUDGET_SECONDS"
EXPLAIN_BUDGET_SECONDS_DEFAULT = 0.0  # 0: the share of the time limit

# Logging and metrics.
LOG_LEVEL = "LITELENS_LOG_LEVEL"
LOG_LEVEL_DEFAULT = "INFO"
METRICS_NAMESPACE = "LITELENS_METRICS_NAMESPACE"
METRICS_NAMESPACE_DEFAULT = "litelens"
SERVICE_NAME = "LITELENS_SERVICE"

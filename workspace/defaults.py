"""Azure ML's defaults for batch deployments and endpoints, in one place.

They mirror the defaults of `az ml batch-deployment create` and azure-ai-ml's BatchDeployment.
"""
DEFAULT_INSTANCE_COUNT = 1
DEFAULT_MAX_CONCURRENCY_PER_INSTANCE = 1
DEFAULT_MINI_BATCH_SIZE = 10
DEFAULT_OUTPUT_ACTION = "append_row"
DEFAULT_OUTPUT_FILE_NAME = "predictions.csv"
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_TIMEOUT_SECONDS = 30
DEFAULT_ERROR_THRESHOLD = -1
DEFAULT_LOGGING_LEVEL = "info"
DEFAULT_COMPUTE = "local"
DEFAULT_AUTH_MODE = "key"
DEFAULT_DATASTORE = "workspaceblobstore"
MAX_DEPLOYMENTS_PER_ENDPOINT = 20
MAX_INSTANCE_COUNT = 64

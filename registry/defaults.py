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
DEFAULT_INBOX_PREFIX = "inbox/"
DEFAULT_INBOX_DEBOUNCE_SECONDS = 5
DEFAULT_SCHEDULE_TIME_ZONE = "UTC"

# Upper bounds: what a request may ask for. Each keeps a record inside Table storage's limits (an entity is at
# most 1 MiB, an integer column an Int32) and refuses values that can only be typos.
MAX_MINI_BATCH_SIZE = 10_000  # a mini-batch's file list travels in one activity payload (~1 MB of names)
MAX_RETRIES = 100  # more retries than this only delays a verdict that will not change
MAX_RETRY_TIMEOUT_SECONDS = 86_400  # a mini-batch that needs more than a day is better split
MAX_CONCURRENCY_PER_INSTANCE = 64  # scoring processes per instance; each holds a model in memory
MAX_ERROR_THRESHOLD = 2**31 - 1  # counts files; an Int32 column
MAX_INBOX_DEBOUNCE_SECONDS = 3600  # a burst that trickles in over more than an hour is several bursts
MAX_RECURRENCE_INTERVAL = 100_000  # frequency units between occurrences (100,000 minutes is ~70 days)
MAX_DESCRIPTION_CHARS = 8_000  # room for a paragraph or a model card's summary
MAX_TAGS = 100  # tags per resource
MAX_TAG_KEY_CHARS = 256
MAX_TAG_VALUE_CHARS = 4_096  # a URL or a short JSON value fits
MAX_RECORD_CHARS = 480_000  # a record's JSON in one Table entity (1 MiB, strings count 2 bytes a character)

"""Every tunable number of the lab in one place, with the reason it has the value it has."""

# How pods are started. forkserver: a clean, preloaded process forks each pod, so pods
# start fast (~130 ms for 30 from a Jupyter kernel) without inheriting the kernel's
# threads (which plain fork would copy mid-flight). "spawn" is safest but ~1.6 s for 30.
START_METHOD = "forkserver"

# A replacement pod waits this long after a crash, doubling on each crash of the same
# pod, up to the cap (Kubernetes' CrashLoopBackOff does 10 s -> 5 min; a lab is faster).
RESTART_BACKOFF = 0.1
RESTART_BACKOFF_CAP = 2.0
# A pod that stays up this long is considered healthy again: its backoff resets.
RESTART_BACKOFF_RESET = 10.0

# How long a pod may take to start and say "ready" before the lab gives up on it.
POD_START_TIMEOUT = 30.0
# Graceful stop (scale down): wait this long for in-flight work, then SIGTERM, then
# this long again before SIGKILL.
GRACE_PERIOD = 5.0

# How long lab.call waits for a reply before answering with a timeout error.
CALL_TIMEOUT = 10.0
# lab.call polls without sleeping this long before it blocks (see runtime/pods.py, spin_until_readable).
CALL_SPIN = 100e-6
# lab.run keeps this many requests in flight on each pod, so a pod never waits for the
# lab between two requests (pipelining), while the pipes' buffers never fill.
PIPELINE_DEPTH = 4
# Open-loop (timed) runs allow more in flight per pod before the lab itself must wait.
OPEN_LOOP_MAX_IN_FLIGHT = 64

# A pod checks this often whether the lab that started it is still alive.
PARENT_WATCH_INTERVAL = 0.25

# redis-py gives up fast when Redis is down, instead of its default retries (~4 s).
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_SOCKET_TIMEOUT = 2.0
# How long to wait for the embedded or real Redis server to accept connections.
REDIS_START_TIMEOUT = 20.0

# Sticky balancing: virtual nodes per pod on the consistent-hash ring. More nodes spread
# users more evenly; 100 keeps each pod's share within a few percent of 1/N.
HASH_RING_VNODES = 100

# How long the SMS gateway takes per message: long enough that a queue builds up under
# load (so a crash has something to lose), short enough that lessons finish quickly.
SMS_SECONDS = 0.005

# The lab's history keeps this many of the newest requests (about 1.8 KB each for a
# payment): ~180 MB at most, where a dashboard load left on for hours would otherwise fill
# a Binder session's 2 GB. A lesson's largest run (salary day at 30 pods, ~36k requests)
# fits twice over, and a Run keeps its own requests anyway. The audit stays exact: what
# dropped requests promised is kept in compact form (see history.History).
HISTORY_KEEP = 100_000

# lab.audit() waits up to this long for queued SMS to be sent before it counts.
AUDIT_WAIT = 10.0
# Timed runs at least this long show a progress bar.
PROGRESS_AFTER = 2.0

# The most one account may open with (₹1 lakh crore), and the most all of them together
# may hold: every store must hold any balance exactly, and Redis runs payments in Lua,
# whose numbers are doubles (exact up to 2**53). Money only moves, so no balance can ever
# exceed the sum of the opening balances; keeping that sum below 2**53 keeps every
# balance exact in memory, in Redis and in its scripts.
MAX_OPENING_BALANCE = 10**12
MAX_TOTAL_BALANCE = 2**53 - 1

# The seed a Lab uses when none is given, so lessons print the same numbers every run.
SEED = 0

# Arguments the lab accepts, bounded so a typo is an error rather than a hang.
# lab.run(depth=...): requests in flight per pod; beyond the open-loop maximum nothing gets
# faster, the pipes' buffers just fill.
MAX_DEPTH = OPEN_LOOP_MAX_IN_FLIGHT
# lab.run([(at, endpoint, params)]): the latest `at`, in seconds. The longest load shape
# lasts 600 s; an `at` beyond that is a typo (milliseconds?), not a lesson.
MAX_RUN_AT = 600.0
# timeout= / wait= arguments: at most 10 minutes, the length of the longest run.
MAX_TIMEOUT = 600.0
# A load shape plans at most this many requests (rate × seconds): the lab sends ~30k/s, so a
# million already takes half a minute; 100,000 rps for 600 s would plan 60 million (~18 GB).
MAX_PLANNED_REQUESTS = 1_000_000
# A pod's error message is cut to this many characters: an error that quotes a 300 KB user
# name must not send 300 KB back.
ERROR_LIMIT = 500

# ---- issue 9, the runtime in layers
# The most pods a lab runs: a 2-core laptop runs 64 idle pods (~3 MB each); more teaches
# nothing new.
MAX_PODS = 64
# Seconds a pod's reply may wait to share one write with the replies after it: fast
# replies leave together (one syscall, one wake-up of the lab), and coalescing never
# delays an answer by more than this.
REPLY_COALESCE = 0.001
# ---- finpay_lab.serve: one pod over HTTP, as a container runs it (issue 12)
# The largest request the course sends (a payment with its token and key) is under 1 KB;
# 64 KiB leaves room for a learner's endpoints and refuses a runaway client with a 413.
SERVE_MAX_BODY = 64 * 1024
# Requests a pod runs at once (a thread pool: handlers block on Redis). A MemoryState runs
# them one at a time anyway (its lock); with Redis, 8 keep the pod busy while some wait.
SERVE_THREADS = 8
# After SIGTERM, keep serving this long with /readyz failing, so a load balancer polling
# readiness stops sending first. In Kubernetes the preStop sleep already covers this (the
# Service drops the pod while preStop runs); outside it (docker stop) nothing else does.
SERVE_DRAIN_SECONDS = 1.0
# Then the requests in flight get this long to finish: inside Kubernetes' default
# terminationGracePeriodSeconds (30 s) minus the preStop sleep and the drain.
SERVE_GRACEFUL_TIMEOUT = 20.0
# A store that does not answer at start (Redis not up yet) is tried again this often.
SERVE_RETRY = 0.5
# ---- SQL stores (stores/sql.py, stores/postgres_server.py; issue 10)
# A SQLite writer waits this long for another pod's write transaction to finish before it
# gives up with "database is locked". A transfer holds the write lock for ~30 µs, so even
# 30 pods queueing for it wait milliseconds; seconds here means "something is stuck".
SQLITE_BUSY_TIMEOUT = 10.0
# SQLite's synchronous level in WAL mode. NORMAL: a commit is in the WAL file (the OS has
# it) but not fsynced; a killed process (a pod, the lab) loses nothing committed, only an
# OS crash or power loss could lose the last commits, and never corrupts the file. The lab's
# crashes are process crashes, so NORMAL keeps every promise the lessons make, at ~4-5x the
# speed of FULL (measured here: 37k vs 8k transfers/s with 4 processes).
SQLITE_SYNCHRONOUS = "NORMAL"
# initdb + start of the lab's own PostgreSQL server take ~1-3 s here; a loaded CI machine
# may take several times that.
POSTGRES_START_TIMEOUT = 60.0
# A postgresql:// URL the learner gives must answer within this long, or the lab says so.
DB_CONNECT_TIMEOUT = 5.0
# --- Redis persistence and StatefulSets (issues 10 and 11) ---
# redis_persistence="aof": when redis-server forces its append-only file to disk. "always"
# writes and fsyncs before the replies go out, so an acknowledged write survives a crash of
# the process (and of the machine). Redis's default "everysec" usually does too, but when
# last second's fsync is still running on a busy disk Redis postpones writing the file for
# up to 2 s and answers clients anyway: a SIGKILL then loses acknowledged writes (seen here
# once in nine runs of lesson 06 on a loaded machine). The lab promises exact numbers, so it
# pays for "always"; lesson 06 explains the trade-off.
REDIS_AOF_FSYNC = "always"
# fl.StatefulSet(replicas=...): a primary and up to 8 replicas on a laptop is plenty; more is a typo.
STATEFULSET_MAX_REPLICAS = 9
# How long a StatefulSet waits for one pod to load its volume and (a replica) to sync.
STATEFULSET_POD_TIMEOUT = 20.0
# ---- Autoscaler in the lab, readiness (issue 11: runtime/autoscaling.py, runtime/readiness.py)
# A pod asks its app's readiness check this often until it passes (Kubernetes' readiness
# probe default periodSeconds is 10 s; the lab's pods live seconds, so 0.1 s).
READINESS_INTERVAL = 0.1
# --- Graceful termination and rolling updates (runtime/termination.py, runtime/rollout.py; issue 11) ---
# lab.remove(how="kubernetes"): how long after a pod's deletion the balancers still send it
# requests (endpoints controller → kube-proxy/ingress on every node). Seconds in a real
# cluster; half a second here, like the lab's other clocks, long enough to see it fail.
PROPAGATION_DELAY = 0.5
# propagation, pre_stop and grace above this many seconds are a typo in a lab.
MAX_TERMINATION_SECONDS = 120.0
# A rolling update that has not finished in this long (a new pod never ready, a drain
# stuck) gives up; each step is bounded already by POD_START_TIMEOUT and GRACE_PERIOD.
ROLLOUT_TIMEOUT = 300.0
# --- Databases in the lab, crash points (issue 10, db wiring) ---
# A request held at a point (lab.pause_at) waits at most this long if nobody releases it
# (a run releases it as soon as nothing else can move): a forgotten hold ends by itself.
POINT_HOLD_MAX = 30.0
# How often a held request looks whether it was released: 1 ms, far below any request's time.
POINT_HOLD_POLL = 0.001
# Arming a point asks every pod; one busy for longer (holding a request) learns it at restart.
POINT_ARM_TIMEOUT = 2.0
# FinPay's cache of balances (cache-aside, with a database): how long a cached balance
# lives. Invalidation after each payment keeps it right; the TTL bounds how stale it can be
# when invalidation is skipped (or a pod-memory cache is invalidated on one pod only).
BALANCE_CACHE_TTL = 30
# ---- the embedded Redis's scripts (stores/redis_fake.py; issue 10, benchmarks/stores.py)
# Compiled Lua scripts the embedded Redis keeps (real Redis keeps every script it was sent,
# until SCRIPT FLUSH). A lab sends a handful (FinPay's payment is one); a learner's notebook
# a few dozen; past this many the cache starts afresh, so a loop that EVALs generated text
# cannot grow the helper's memory without bound.
FAKE_REDIS_SCRIPTS_KEPT = 256
# ---- serve --init (finpay_lab/serve.py; runtime loose ends)
# How long `serve --init` waits for REDIS_URL / DATABASE_URL to answer before it gives up
# (exit 1; a Kubernetes Job then retries it): the stores may still be starting beside it.
SERVE_INIT_TIMEOUT = 60.0

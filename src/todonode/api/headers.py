"""The HTTP headers todonode itself defines or gives meaning to, by name, in one place."""

NODE = "X-Todonode-Node"  # the node that answered
APPLIED_INDEX = "X-Todonode-Applied-Index"  # how far that node had applied the log
EXPORT_INDEX = "X-Todonode-Export-Index"  # the log index an export holds the tasks at
LEADER = "X-Todonode-Leader"  # the leader that ordered a write
FORWARDED_BY = "X-Todonode-Forwarded-By"  # the follower that passed a request on to the leader
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # the answer is the stored one of an earlier request with the same key
PEER_VERSIONS = "X-Todonode-Versions"  # on a peer stream's opening request: the peer's versions (versions.py)
PEER_CLUSTER = "X-Todonode-Cluster"  # on a peer stream's opening request: the cluster id, once known

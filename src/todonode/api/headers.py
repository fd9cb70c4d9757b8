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
CLUSTER_ID = "X-Todonode-Cluster-Id"  # on a backup: the cluster it was taken from
BACKUP_INDEX = "X-Todonode-Backup-Index"  # on a backup: the log index its state reflects
BACKUP_TERM = "X-Todonode-Backup-Term"  # on a backup: the term of that entry
BACKUP_FORMAT = "X-Todonode-Backup-Storage-Format"  # on a backup: the storage format of its snapshot

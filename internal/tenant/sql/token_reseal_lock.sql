-- rotate-key re-seals every token set in one transaction. EXCLUSIVE mode still lets readers
-- (status, /healthz) through, but waits for a refresh or connect under way to commit and
-- holds back any new one until this commits: no token set sealed under the old key can be
-- written between the read below and the commit.
LOCK TABLE xerosync.connections IN EXCLUSIVE MODE

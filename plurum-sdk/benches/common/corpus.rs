// The benchmark's corpus: 16 topics × 8 details. Shared by
// `benches/server.rs` and the recall test of `src/server/vectors.rs`
// (`include!`d there), so the recall is measured on what is benchmarked.

/// What the experiences are about.
const TOPICS: &[&str] = &[
    "PostgreSQL streaming replication",
    "Redis cluster failover",
    "Kubernetes ingress TLS",
    "Docker multi-stage builds",
    "Terraform state locking",
    "Kafka consumer lag",
    "Nginx rate limiting",
    "Rust async cancellation",
    "Python packaging wheels",
    "GitHub Actions caching",
    "S3 lifecycle rules",
    "gRPC deadline propagation",
    "Prometheus alert routing",
    "SQLite WAL checkpoints",
    "OAuth token refresh",
    "WebSocket reconnect backoff",
];
/// How each topic was done.
const DETAILS: &[&str] = &[
    "under heavy write load",
    "across two regions",
    "with zero downtime",
    "on a tight memory budget",
    "behind a corporate proxy",
    "for a multi-tenant setup",
    "with strict latency goals",
    "in CI only",
];

package io.v6d.migrate.tcp;

/**
 * An agent as it published itself in its cluster's metadata: where it listens and whether it speaks
 * TLS there. Kept apart from the registry that reads it, so that the connection pool can remember it.
 */
public record PublishedAgent(AgentEndpoint endpoint, boolean tls) {}

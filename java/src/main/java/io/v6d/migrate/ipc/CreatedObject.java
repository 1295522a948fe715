package io.v6d.migrate.ipc;

/** What vineyardd answers to create_data: the new object's id, signature and instance. */
public record CreatedObject(long id, long signature, long instanceId) {}

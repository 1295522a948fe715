package io.v6d.migrate.engine;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.Locale;

/** How blob bytes travel from the source instance. */
public enum TransportChoice {
  /** Shared memory on one host; else the source's agent over TCP; else vineyardd's RPC port. */
  AUTO,
  /** Both stores mapped into this process: the source must be on this host. */
  LOCAL,
  /** The agent beside the source vineyardd ({@code vineyard-migrate serve}). */
  TCP,
  /** vineyardd's own RPC port; needs nothing on the source host. */
  RPC;

  public static TransportChoice parse(String text) {
    if (text == null || text.isBlank()) {
      return AUTO;
    }
    try {
      return valueOf(text.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new MigrateException(ErrorCode.INVALID,
          "unknown transport '" + text + "': use auto, local, tcp or rpc");
    }
  }
}

package io.v6d.migrate.engine;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This host's name as vineyard sees hosts: {@code MY_HOST_NAME} when set (vineyardd reports the
 * same variable), else the kernel's host name. An instance whose cluster entry carries another
 * host name is on another host, even when its socket file happens to be visible.
 */
final class LocalHost {
  private LocalHost() {}

  static String name() {
    String fromEnv = System.getenv("MY_HOST_NAME");
    if (fromEnv != null && !fromEnv.isBlank()) {
      return fromEnv.trim();
    }
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException e) {
      try {
        return InetAddress.getLocalHost().getHostName();
      } catch (IOException unknown) {
        return "localhost";
      }
    }
  }
}

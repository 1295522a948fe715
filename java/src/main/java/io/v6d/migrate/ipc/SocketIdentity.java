package io.v6d.migrate.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Which vineyardd process listens on an IPC socket, as the file system tells it: the socket file's
 * device, inode and time of creation. A vineyardd that restarts creates its socket anew, so the
 * identity changes even when the instance id and the path stay the same.
 */
public final class SocketIdentity {
  private SocketIdentity() {}

  /** The identity of {@code socket}; empty when it cannot be read here (another mount namespace). */
  public static String of(String socket) {
    try {
      BasicFileAttributes attributes = Files.readAttributes(Path.of(socket), BasicFileAttributes.class);
      return attributes.fileKey() + "@" + attributes.lastModifiedTime().toInstant();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}

package io.v6d.migrate.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.v6d.migrate.MigrateException;
import org.junit.jupiter.api.Test;

class AgentEndpointTest {
  @Test
  void parsesAndPrints() {
    assertEquals(new AgentEndpoint("10.0.0.2", 9700), AgentEndpoint.parse("tcp://10.0.0.2:9700"));
    assertEquals(new AgentEndpoint("::1", 9700), AgentEndpoint.parse("tcp://[::1]:9700"));
    assertEquals("tcp://[::1]:9700", new AgentEndpoint("::1", 9700).toString());
    assertThrows(MigrateException.class, () -> AgentEndpoint.parse("tcp://host"));
    assertThrows(MigrateException.class, () -> AgentEndpoint.parse("tcp://host:70000"));
  }
}

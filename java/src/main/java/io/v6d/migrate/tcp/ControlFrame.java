package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.protocol.FrameType;

/** A frame with a JSON body: handshake, request, reply or error. */
public record ControlFrame(FrameType type, JsonNode body) {}

package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.protocol.Handshake;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;

/** The client's half of the handshake; removes itself once both sides have proven the token. */
final class ClientHandshake extends SimpleChannelInboundHandler<ControlFrame> {
  private final byte[] token;
  private final FrameDecoder decoder;
  private final CompletableFuture<Void> done;
  private final AgentEndpoint endpoint;
  private final boolean tls;
  private byte[] agentNonce;
  private byte[] clientNonce;

  ClientHandshake(byte[] token, FrameDecoder decoder, CompletableFuture<Void> done, AgentEndpoint endpoint, boolean tls) {
    this.token = token;
    this.decoder = decoder;
    this.done = done;
    this.endpoint = endpoint;
    this.tls = tls;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, ControlFrame frame) {
    JsonNode body = frame.body();
    switch (frame.type()) {
      case HELLO -> {
        if (body.path("version").asInt() != Handshake.PROTOCOL_VERSION) {
          throw new MigrateException(ErrorCode.CONNECTION_ERROR,
              "the agent speaks protocol version " + body.path("version").asInt() + ", this client "
                  + Handshake.PROTOCOL_VERSION);
        }
        agentNonce = decode(body.path("nonce").asText());
        clientNonce = Handshake.nonce();
        ctx.writeAndFlush(new ControlFrame(FrameType.AUTH, FrameCodec.mapper().createObjectNode()
            .put("nonce", encode(clientNonce))
            .put("proof", encode(Handshake.clientProof(token, agentNonce, clientNonce)))));
      }
      case AUTH_OK -> {
        if (agentNonce == null
            || !Handshake.matches(Handshake.agentProof(token, agentNonce, clientNonce), decode(body.path("proof").asText()))) {
          throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the agent could not prove it holds the token");
        }
        decoder.authenticated();
        ctx.pipeline().remove(this);
        done.complete(null);
      }
      case ERROR -> throw new MigrateException(ErrorCode.of(body.path("code").asInt(34)),
          "the agent refused the connection: " + body.path("message").asText());
      default -> throw new MigrateException(ErrorCode.CONNECTION_ERROR, "unexpected " + frame.type() + " before authentication");
    }
  }

  /**
   * A failure during the handshake fails it; one after it (the handler is on its way out) belongs
   * to the authenticated connection and is passed on, never reported as an authentication failure.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (done.isDone()) {
      ctx.fireExceptionCaught(cause);
      return;
    }
    done.completeExceptionally(tlsFailure(cause));
    ctx.close();
  }

  /** A TLS failure said in the user's terms: which side speaks what, or why the handshake failed. */
  private Throwable tlsFailure(Throwable cause) {
    Throwable root = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
        ? cause.getCause() : cause;
    if (root instanceof io.netty.handler.ssl.NotSslRecordException) {
      return new MigrateException(ErrorCode.CONNECTION_ERROR, "the agent at " + endpoint + " does not speak TLS (it "
          + "answered in plaintext): connect without tls, or start the agent with --tls-cert and --tls-key", cause);
    }
    if (tls && root instanceof javax.net.ssl.SSLException) {
      return new MigrateException(ErrorCode.CONNECTION_ERROR, "TLS handshake with the agent at " + endpoint
          + " failed: " + root.getMessage(), cause);
    }
    return cause;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    done.completeExceptionally(new MigrateException(ErrorCode.CONNECTION_ERROR,
        "the agent at " + ctx.channel().remoteAddress() + " closed the connection during the handshake"
            + (tls ? " (TLS: does it require a client certificate? give tls_cert and tls_key signed by its CA)" : "")));
    ctx.fireChannelInactive();
  }

  static String encode(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  static byte[] decode(String text) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "malformed handshake field");
    }
  }
}

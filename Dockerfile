# The vineyard-migrate agent as a container image: `docker build -t vineyard-migrate-agent:1.0.0 .`
# Stage 1 builds the shaded engine jar with Maven; stage 2 is a Java 17 runtime with that jar only.

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
# dependencies first: a change to the sources does not download them again
RUN mvn -q -B -DskipTests dependency:go-offline
COPY java/src/main java/src/main
RUN mvn -q -B -DskipTests package \
    && rm -f target/original-*.jar \
    && cp target/vineyard-migrate-*.jar /vineyard-migrate.jar

FROM eclipse-temurin:17-jre-jammy
RUN groupadd --system --gid 10001 vineyard-migrate \
    && useradd --system --uid 10001 --gid vineyard-migrate --no-create-home --shell /usr/sbin/nologin vineyard-migrate
COPY --from=build /vineyard-migrate.jar /opt/vineyard-migrate/vineyard-migrate.jar
USER 10001:10001
# 9700: the agent (peers, token-authenticated); 9701: /metrics and /healthz
EXPOSE 9700 9701
# The heap follows the container's memory limit (a quarter of it); out of memory ends the process,
# so that Kubernetes restarts it rather than leaving a half-working agent. The two CompileCommand
# options are the engine's own (python/vineyard_migrate/_jvm.py, DEFAULT_JVM_OPTIONS), which the
# command line adds when it starts java: the agent's call path compiled early, not echoed on stdout.
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=25", "-XX:+ExitOnOutOfMemoryError", "-XX:CompileCommand=quiet", "-XX:CompileCommand=CompileThresholdScaling,io/v6d/migrate/*.*,0.2", "-jar", "/opt/vineyard-migrate/vineyard-migrate.jar", "serve"]
CMD ["--help"]

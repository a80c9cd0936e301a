// Composition root: builds everything an instance needs from a parsed config, once.
import "reflect-metadata";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { ApolloServer } from "@apollo/server";
import type { AppConfig } from "./config.js";
import { createContext, type AppContext } from "./context.js";
import { createAccess } from "./auth/access.js";
import type { Authenticator } from "./auth/authenticator.js";
import { ANONYMOUS, LOCAL_ADMIN, type Principal } from "./auth/principal.js";
import { POLICY } from "./auth/policy.js";
import { createOperationGate } from "./http/access-plugin.js";
import { startApolloServer } from "./http/apollo-server.js";
import { AccessResolver } from "./resolvers/access/access.resolver.js";
import type { Db, StatementCounter } from "./db/client.js";
import { expectedMigrations, MigrationGate } from "./db/migrations.js";
import type { Checkpointer } from "./db/checkpointer.js";
import { openStorage } from "./db/storage.js";
import { BulkWorker } from "./domain/bulk/bulk.worker-client.js";
import { AbResultsService } from "./domain/ab-testing/ab-results.service.js";
import { AbTestRepository } from "./domain/ab-testing/ab-test.repository.js";
import { AbTestService } from "./domain/ab-testing/ab-test.service.js";
import { ExposureBuffer } from "./domain/ab-testing/exposure.buffer.js";
import { ServingCache } from "./domain/ab-testing/serving.cache.js";
import { ServingSource } from "./domain/ab-testing/serving.source.js";
import { PromptReads } from "./domain/prompts/prompt.reads.js";
import { PromptWrites } from "./domain/prompts/prompt.writes.js";
import { ServingService } from "./domain/ab-testing/serving.service.js";
import { AbTestResolver } from "./resolvers/ab-testing/ab-test.resolver.js";
import { SystemHealthService } from "./domain/analytics/system-health.service.js";
import type { UsageRetention } from "./domain/analytics/usage.retention.js";
import type { UsageService, UsageBuffers } from "./domain/analytics/usage.service.js";
import { createUsage } from "./domain/analytics/usage.setup.js";
import { AnalyticsResolver } from "./resolvers/analytics/analytics.resolver.js";
import { Metrics } from "./http/metrics.js";
import type { Cache } from "./cache/cache.js";
import { createCache } from "./cache/create-cache.js";
import { ProviderRegistry } from "./domain/refinement/refinement.providers.js";
import { RefinementRepository } from "./domain/refinement/refinement.repository.js";
import { RefinementRunner } from "./domain/refinement/refinement.runner.js";
import { RefinementService } from "./domain/refinement/refinement.service.js";
import { PromptVersionRefinementResolver, RefinementResolver } from "./resolvers/refinement/refinement.resolver.js";
import { LabelRepository } from "./domain/prompts/label.repository.js";
import { LabelService } from "./domain/prompts/label.service.js";
import { PromptRepository } from "./domain/prompts/prompt.repository.js";
import { RenderService } from "./domain/prompts/render.service.js";
import { TransferRepository } from "./domain/prompts/transfer.repository.js";
import { BulkRepository } from "./domain/bulk/bulk.repository.js";
import { BulkRunner } from "./domain/bulk/bulk.runner.js";
import { BulkService } from "./domain/bulk/bulk.service.js";
import { NotificationService } from "./domain/notifications/notification.service.js";
import { DiffService } from "./domain/prompts/diff.service.js";
import { ExportService } from "./domain/prompts/export.service.js";
import { ImportService } from "./domain/prompts/import.service.js";
import { RelationshipRepository } from "./domain/relationships/relationship.repository.js";
import { RelationshipService } from "./domain/relationships/relationship.service.js";
import { PromptService } from "./domain/prompts/prompt.service.js";
import { createExportHandler } from "./http/export-handler.js";
import { createGraphQLHandler } from "./http/graphql-handler.js";
import { TurnBudget } from "./http/turn-budget.js";
import { createReadiness } from "./http/readiness.js";
import { createHttpServer, type Readiness } from "./http/server.js";
import { StaticBundle } from "./http/static-files.js";
import { createLogger, type Logger } from "./logger.js";
import { ResolverContainer } from "./resolvers/container.js";
import { PromptLabelResolver, PromptVersionLabelResolver } from "./resolvers/prompts/label.resolver.js";
import { PromptEventsResolver } from "./resolvers/prompts/prompt-events.resolver.js";
import { PromptRenderResolver } from "./resolvers/prompts/render.resolver.js";
import { ImportResolver } from "./resolvers/prompts/import.resolver.js";
import { DiffResolver } from "./resolvers/prompts/diff.resolver.js";
import { BulkOperationResolver } from "./resolvers/bulk/bulk.resolver.js";
import { NotificationResolver } from "./resolvers/notifications/notification.resolver.js";
import { PromptRelationshipsResolver, RelationshipResolver } from "./resolvers/relationships/relationship.resolver.js";
import { PromptMutationResolver } from "./resolvers/prompts/prompt-mutation.resolver.js";
import { PromptVersionResolver } from "./resolvers/prompts/prompt-version.resolver.js";
import { PromptResolver } from "./resolvers/prompts/prompt.resolver.js";
import { SearchRepository } from "./domain/search/search.repository.js";
import { SearchService } from "./domain/search/search.service.js";
import { SearchResolver } from "./resolvers/search/search.resolver.js";
import { getSchema } from "./resolvers/schema.js";
import { validationRules } from "./validation-rules.js";
import { createEventBus, type EventBus } from "./subscriptions/pubsub.js";
import { startWsServer } from "./subscriptions/ws-server.js";
import { ROOT } from "./paths.js";

export const VERSION: string = (JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { version: string }).version;
export const GRAPHQL_PATH = "/graphql";

export interface App {
  config: AppConfig;
  logger: Logger;
  db: Db;
  /** Every SQL statement sent, Prisma's and the prepared ones (tests assert on it). */
  statements: StatementCounter;
  /** The WAL checkpointer thread (tests read what it last did). */
  checkpointer: Checkpointer;
  services: {
    prompts: PromptService;
    bulk: BulkService;
    runner: BulkRunner;
    notifications: NotificationService;
    refinements: RefinementService;
    refinementRunner: RefinementRunner;
    abResults: AbResultsService;
    exposures: ExposureBuffer;
    servingCache: ServingCache;
    cache: Cache;
    usage: UsageService;
    retention: UsageRetention;
    usageBuffers: UsageBuffers;
  };
  /** The app's event bus (tests watch what is published). */
  bus: EventBus;
  apollo: ApolloServer<AppContext>;
  /** A request's context; the caller is the open-local-mode admin (or anonymous) unless given. */
  createContext(requestId: string, options?: { cache?: boolean; viewer?: Principal }): AppContext;
  /** Who presented secrets are (tests and the CLI use it as the HTTP path does). */
  authenticator: Authenticator;
  readiness(): Promise<Readiness>;
  /** Starts HTTP and WebSocket on config.host:config.port (0 = ephemeral); resolves to the bound port. */
  listen(): Promise<number>;
  /** Graceful: stop accepting, finish in-flight requests, close sockets, then the database. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Where the built GraphiQL bundle is; defaults to dist/graphiql of this checkout. */
  graphiqlDir?: string;
}

export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const storage = await openStorage(config, logger);
  const { db, statements, writeGate, reader, writer, checkpointer } = storage;
  const bulkWorker = new BulkWorker(
    { file: config.dbFile, busyTimeoutMs: config.sqliteBusyTimeoutMs, limits: { maxContentBytes: config.maxContentBytes }, priority: 19 },
    writeGate,
    logger,
  );
  const migrations = new MigrationGate(db, config.dbFile, expectedMigrations());
  // The background work of a migrated database (retention, resuming jobs and refinement
  // sessions, checkpoints) starts half a second after it is ready, not on the way to the first
  // answer: each of them costs the starting process CPU, Prisma's first queries most of all.
  // Until it runs, app.close() has nothing of it to stop.
  let stopping = false;
  const afterStart = (fn: () => unknown) => migrations.whenReady(() => setTimeout(() => stopping || fn(), 500).unref());
  if (!(await migrations.check())) {
    logger.warn({ db: config.dbFile, pending: migrations.pending }, "database is not migrated: run `npm run db:migrate`; not ready until then");
  }
  const bus = await createEventBus(config, logger);
  const access = await createAccess(config, db, writer, bus, logger);
  const { apiKeys, authenticator, audit, admit } = access;
  afterStart(() => audit.startRetention(config.audit.retentionDays));

  // Until it starts, the connections' own checkpoints bound the log (src/db/checkpointer.ts).
  afterStart(() => checkpointer.start());
  const reads = new PromptReads(reader);
  const writes = new PromptWrites(writer);
  const promptRepository = new PromptRepository(db, false, reads, writes);
  const labelRepository = new LabelRepository(db, false, reads, writes);
  const prompts = new PromptService(promptRepository, bus, { maxContentBytes: config.maxContentBytes });
  const labels = new LabelService(labelRepository, prompts, bus);
  // Rendering may legitimately grow a prompt through includes and variables, but not without bound.
  const renderer = new RenderService(promptRepository, labels, 4 * config.maxContentBytes);
  const relationshipRepository = new RelationshipRepository(db, reader);
  const relationships = new RelationshipService(relationshipRepository, prompts);
  const diffs = new DiffService(prompts);
  const notifications = new NotificationService(db, bus, writer);
  const transferRepository = new TransferRepository(db);
  const exporter = new ExportService(prompts, promptRepository, labelRepository, transferRepository);
  const importer = new ImportService(prompts, promptRepository, transferRepository, bus, { maxContentBytes: config.maxContentBytes });
  const bulkRepository = new BulkRepository(db, writer, reader);
  const runner = new BulkRunner(db, bulkRepository, { prompts, labels, importer }, bus, notifications, logger, {
    chunkSize: config.bulk.chunkSize,
    chunkMs: config.bulk.chunkMs,
    progressIntervalMs: 250,
    protectedLabels: new Set(config.auth.protectedLabels),
    keyActive: (keyId) => apiKeys.isActive(keyId),
  }, bulkWorker);
  const bulk = new BulkService(bulkRepository, prompts, runner, bus, { maxItems: config.bulk.maxItems });
  const refinementRepository = new RefinementRepository(db, false, reader);
  const providers = ProviderRegistry.fromConfig(config.llm);
  const refinementRunner = new RefinementRunner(refinementRepository, prompts, providers, bus, notifications, logger, {
    concurrency: config.refinement.concurrency,
    deltaIntervalMs: 100,
    heartbeatMs: config.refinement.heartbeatMs ?? 5_000,
    // Generous next to what can be applied (a proposal must fit maxContentBytes), but bounded.
    maxReplyChars: 4 * config.maxContentBytes,
  });
  const abTestRepository = new AbTestRepository(db);
  const abTests = new AbTestService(abTestRepository, prompts, labels, bus);
  // The results service is told when exposures are written; it is made after the buffer.
  let onExposures: (testIds: Set<string>) => void = () => {};
  const exposures = new ExposureBuffer(abTestRepository, logger, { intervalMs: 1_000, maxPending: 5_000 }, (ids) => onExposures(ids));
  const abResults = new AbResultsService(abTestRepository, abTests, exposures, bus, notifications, logger);
  onExposures = (ids) => ids.forEach((id) => abResults.schedule(id));
  // The one cache: in-process LRU, and Redis as the second level when REDIS_URL is set.
  const cache = await createCache(config, logger, { bus, maxEntries: 50_000, maxBytes: 64 * 1024 * 1024, defaultTtlMs: 60_000 });
  const cacheCounts = () => {
    const stats = cache.stats();
    // A miss is a load from the database: a first-level miss that Redis answered is a hit.
    return { hits: stats.l1.hits + stats.l2.hits, misses: stats.l2.enabled ? stats.l2.misses : stats.l1.misses };
  };
  const servingCache = new ServingCache(new ServingSource(reader), abTestRepository, cache, bus);
  const serving = new ServingService(servingCache, renderer, exposures);
  const { usage, usageRepository, buffers: usageBuffers, retention, ...usageParts } = createUsage({
    config,
    db,
    writeGate,
    prompts,
    bus,
    cache,
    promptByName: (name) => servingCache.promptByName(name),
    logger,
  });
  afterStart(() => retention.start());
  const startedAt = Date.now();
  const systemHealth = new SystemHealthService(usageRepository, {
    startedAt,
    bulkQueueDepth: () => bulk.queueDepth(),
    cache: cacheCounts,
    openSubscriptions: () => bus.totalSubscribers(),
    redis: () => bus.health(),
  });
  const refinements = new RefinementService(refinementRepository, prompts, providers, refinementRunner, bus, config.refinement.streamPollMs);
  // Operations a previous process left queued or running continue by themselves.
  afterStart(() => runner.resume().catch((err: unknown) => logger.error({ err }, "resuming bulk operations failed")));
  // Cancels and deletions must reach sessions started meanwhile: the runner listens at once.
  migrations.whenReady(() => refinementRunner.listen());
  afterStart(() => refinementRunner.start().catch((err: unknown) => logger.error({ err }, "starting refinement sessions failed")));

  const container = new ResolverContainer()
    .register(PromptResolver, new PromptResolver(prompts))
    .register(SearchResolver, new SearchResolver(new SearchService(new SearchRepository(db, reader), prompts)))
    .register(PromptVersionResolver, new PromptVersionResolver())
    .register(PromptMutationResolver, new PromptMutationResolver(prompts))
    .register(PromptEventsResolver, new PromptEventsResolver(bus, prompts))
    .register(PromptLabelResolver, new PromptLabelResolver(labels))
    .register(PromptVersionLabelResolver, new PromptVersionLabelResolver())
    .register(PromptRenderResolver, new PromptRenderResolver(renderer))
    .register(RelationshipResolver, new RelationshipResolver(relationships))
    .register(PromptRelationshipsResolver, new PromptRelationshipsResolver())
    .register(ImportResolver, new ImportResolver(importer))
    .register(DiffResolver, new DiffResolver(diffs))
    .register(BulkOperationResolver, new BulkOperationResolver(bulk))
    .register(NotificationResolver, new NotificationResolver(notifications, bus))
    .register(RefinementResolver, new RefinementResolver(refinements, providers))
    .register(PromptVersionRefinementResolver, new PromptVersionRefinementResolver())
    .register(AbTestResolver, new AbTestResolver(abTests, abResults, serving))
    .register(AnalyticsResolver, new AnalyticsResolver(usage, systemHealth))
    .register(AccessResolver, new AccessResolver(apiKeys, audit));
  const defaultViewer = config.auth.openLocalMode ? LOCAL_ADMIN : ANONYMOUS;
  const makeContext = (requestId: string, ctxOptions: { cache?: boolean; viewer?: Principal } = {}) =>
    createContext({ promptRepository, labelRepository, relationshipRepository, refinementRepository, container, audit }, requestId, {
      cache: ctxOptions.cache ?? true,
      viewer: ctxOptions.viewer ?? defaultViewer,
    });

  const turns = new TurnBudget(config.turnBudgetMs);
  const metrics = new Metrics({
    cache: cacheCounts,
    bulkQueueDepth: () => bulk.queueDepth(),
    subscriptions: () => bus.totalSubscribers(),
    exposuresPending: () => exposures.size,
    statements: () => statements.count,
    deferredRequests: () => turns.deferredSinceStart,
  });
  const schema = await getSchema();
  const rules = validationRules({ maxDepth: config.maxQueryDepth });
  const gate = createOperationGate(schema, { anonymousIntrospection: config.auth.anonymousIntrospection }, config.limits, audit);
  const apollo = await startApolloServer({ schema, rules, auth: config.auth, gate, metrics, logger });

  let shuttingDown = false;
  const readiness = createReadiness({ db, migrations, bus, shuttingDown: () => shuttingDown });

  const http = createHttpServer(
    {
      graphqlPath: GRAPHQL_PATH,
      graphql: createGraphQLHandler(apollo, {
        maxBodyBytes: config.maxBodyBytes,
        maxBatchOperations: config.limits.maxBatchOperations,
        available: () => migrations.ready,
        authenticate: (req) => authenticator.fromHeader(req.headers.authorization, req),
        admit: (principal, req, cost) => admit(principal, req.socket.remoteAddress, cost),
        context: (id, viewer) => makeContext(id, { cache: true, viewer }),
        rejected: (code) => metrics.rejected(code),
        turns,
      }),
      handlers: {
        "/export": createExportHandler(exporter, logger, () => migrations.ready, {
          authenticate: (req) => authenticator.fromHeader(req.headers.authorization, req),
          // The export is every prompt: whoever may list prompts may take it.
          allowed: POLICY.Query.prompts!,
          admit: (principal, req, cost) => admit(principal, req.socket.remoteAddress, cost),
        }),
        "/metrics": metrics.handler(),
      },
      graphiql: new StaticBundle(options.graphiqlDir ?? new URL("dist/graphiql", ROOT).pathname, "/graphiql"),
      health: () => ({
        status: "ok",
        version: VERSION,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        auth: config.auth.openLocalMode
          ? { mode: "open-local", detail: "no PROMPT_STORE_ADMIN_KEY: every caller is an admin; listening on 127.0.0.1 only" }
          : { mode: "api-keys" },
      }),
      readiness,
    },
    logger,
  );
  const ws = startWsServer({
    httpServer: http.server,
    path: GRAPHQL_PATH,
    schema,
    logger,
    rules,
    maxPayloadBytes: config.maxBodyBytes,
    connectionInitWaitTimeoutMs: config.limits.wsInitTimeoutMs,
    authenticate: (params, req) => authenticator.fromConnectionParams(params, req),
    gate,
    admit,
    context: (id, viewer) => makeContext(id, { cache: false, viewer }),
  });
  // A revoked key stops working everywhere at once: cached verifications go, its sockets close.
  const revocations = bus.subscribe("auth.keyRevoked");
  void (async () => {
    for await (const { keyId } of revocations) {
      apiKeys.forget(keyId);
      ws.closeKey(keyId);
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    db,
    statements,
    checkpointer,
    services: { prompts, bulk, runner, notifications, refinements, refinementRunner, abResults, exposures, servingCache, cache, usage, retention, usageBuffers },
    bus,
    apollo,
    createContext: makeContext,
    authenticator,
    readiness,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        http.server.once("error", reject);
        http.server.listen(config.port, config.host, () => {
          const port = (http.server.address() as AddressInfo).port;
          logger.info({ host: config.host, port, db: config.dbFile, version: VERSION }, "prompt store listening");
          resolve(port);
        });
      }),
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        stopping = true;
        migrations.stop();
        const stopped = new Promise<void>((resolve) => http.server.close(() => resolve()));
        await ws.close();
        const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, config.shutdownTimeoutMs, "timeout").unref());
        if ((await Promise.race([http.drained(), timeout])) === "timeout") {
          logger.warn({ inFlight: http.inFlight }, "shutdown timeout: closing remaining connections");
        }
        http.server.closeAllConnections();
        if (http.server.listening) await stopped;
        // The chunk in flight commits; unfinished operations resume on the next start.
        await runner.stop();
        await refinementRunner.stop();
        // Exposures still in memory are written before the database closes.
        await exposures.stop();
        await abResults.stop();
        await servingCache.close();
        reader.close();
        await cache.close();
        await access.close();
        await revocations.return();
        await usageParts.close();
        await apollo.stop();
        await bus.close();
        await bulkWorker.close();
        await storage.closeWriters();
        logger.info("prompt store stopped");
      })()),
  };
}

-- The durable ingress cursor (issue 14): events taken in (deduplication across catch-ups) and how far each daemon
-- key has processed its relays.

-- CreateTable
CREATE TABLE "ingress_events" (
    "event_id" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,
    "done" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "ingress_events_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "ingress_cursors" (
    "pubkey" TEXT NOT NULL,
    "position" BIGINT NOT NULL,
    "updated_at" BIGINT NOT NULL,

    CONSTRAINT "ingress_cursors_pkey" PRIMARY KEY ("pubkey")
);

-- CreateIndex
CREATE INDEX "ingress_events_created_at_idx" ON "ingress_events"("created_at");

-- CreateTable
CREATE TABLE "hold_invoices" (
    "payment_hash" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "amount_sats" BIGINT NOT NULL,
    "notified_state" TEXT NOT NULL DEFAULT 'open',
    "created_at" BIGINT NOT NULL,
    "updated_at" BIGINT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "hold_invoices_pkey" PRIMARY KEY ("payment_hash")
);

-- CreateIndex
CREATE UNIQUE INDEX "hold_invoices_key_key" ON "hold_invoices"("key");

-- CreateIndex
CREATE INDEX "hold_invoices_notified_state_idx" ON "hold_invoices"("notified_state");

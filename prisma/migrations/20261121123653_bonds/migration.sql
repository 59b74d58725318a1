-- CreateTable
CREATE TABLE "bonds" (
    "id" TEXT NOT NULL,
    "order_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "parent_bond_id" TEXT,
    "child_order_id" TEXT,
    "pubkey" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "slashed_reason" TEXT,
    "hash" TEXT,
    "payment_request" TEXT,
    "amount_sats" BIGINT NOT NULL,
    "node_share_sats" BIGINT,
    "payout_recipient" TEXT,
    "payout_attempts" INTEGER NOT NULL DEFAULT 0,
    "invoice_request_attempts" INTEGER NOT NULL DEFAULT 0,
    "last_invoice_request_at" BIGINT,
    "taker_identity" TEXT,
    "taker_trade_index" BIGINT,
    "taker_fiat_amount" BIGINT,
    "taker_amount" BIGINT,
    "taker_fee" BIGINT,
    "taker_dev_fee" BIGINT,
    "locked_at" BIGINT,
    "released_at" BIGINT,
    "slashed_at" BIGINT,
    "created_at" BIGINT NOT NULL,
    "updated_at" BIGINT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "bonds_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "bonds_hash_key" ON "bonds"("hash");

-- CreateIndex
CREATE INDEX "bonds_order_id_idx" ON "bonds"("order_id");

-- CreateIndex
CREATE INDEX "bonds_state_idx" ON "bonds"("state");

-- CreateIndex
CREATE INDEX "bonds_parent_bond_id_idx" ON "bonds"("parent_bond_id");

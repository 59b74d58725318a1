-- CreateTable
CREATE TABLE "orders" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "hash" TEXT,
    "creator_pubkey" TEXT,
    "cancel_initiator_pubkey" TEXT,
    "buyer_pubkey" TEXT,
    "master_buyer_pubkey" TEXT,
    "seller_pubkey" TEXT,
    "master_seller_pubkey" TEXT,
    "status" TEXT NOT NULL,
    "price_from_api" BOOLEAN NOT NULL DEFAULT false,
    "premium" INTEGER NOT NULL,
    "payment_method" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "min_amount" BIGINT,
    "max_amount" BIGINT,
    "buyer_dispute" BOOLEAN NOT NULL DEFAULT false,
    "seller_dispute" BOOLEAN NOT NULL DEFAULT false,
    "buyer_cooperativecancel" BOOLEAN NOT NULL DEFAULT false,
    "seller_cooperativecancel" BOOLEAN NOT NULL DEFAULT false,
    "fee" BIGINT NOT NULL DEFAULT 0,
    "routing_fee" BIGINT NOT NULL DEFAULT 0,
    "dev_fee" BIGINT NOT NULL DEFAULT 0,
    "dev_fee_paid" BOOLEAN NOT NULL DEFAULT false,
    "dev_fee_payment_hash" TEXT,
    "fiat_code" TEXT NOT NULL,
    "fiat_amount" BIGINT NOT NULL,
    "buyer_invoice" TEXT,
    "range_parent_id" TEXT,
    "invoice_held_at" BIGINT NOT NULL DEFAULT 0,
    "taken_at" BIGINT NOT NULL DEFAULT 0,
    "created_at" BIGINT NOT NULL,
    "buyer_sent_rate" BOOLEAN NOT NULL DEFAULT false,
    "seller_sent_rate" BOOLEAN NOT NULL DEFAULT false,
    "failed_payment" BOOLEAN NOT NULL DEFAULT false,
    "payment_attempts" INTEGER NOT NULL DEFAULT 0,
    "expires_at" BIGINT NOT NULL,
    "trade_index_seller" BIGINT NOT NULL DEFAULT 0,
    "trade_index_buyer" BIGINT NOT NULL DEFAULT 0,
    "next_trade_pubkey" TEXT,
    "next_trade_index" BIGINT NOT NULL DEFAULT 0,
    "payout_payment_hash" TEXT,
    "payout_claimed_at" BIGINT,
    "updated_at" BIGINT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "disputes" (
    "id" TEXT NOT NULL,
    "order_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "order_previous_status" TEXT NOT NULL,
    "solver_pubkey" TEXT,
    "created_at" BIGINT NOT NULL,
    "taken_at" BIGINT NOT NULL DEFAULT 0,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "disputes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "orders_status_idx" ON "orders"("status");

-- CreateIndex
CREATE INDEX "orders_buyer_pubkey_idx" ON "orders"("buyer_pubkey");

-- CreateIndex
CREATE INDEX "orders_seller_pubkey_idx" ON "orders"("seller_pubkey");

-- CreateIndex
CREATE INDEX "orders_master_buyer_pubkey_idx" ON "orders"("master_buyer_pubkey");

-- CreateIndex
CREATE INDEX "orders_master_seller_pubkey_idx" ON "orders"("master_seller_pubkey");

-- CreateIndex
CREATE UNIQUE INDEX "disputes_order_id_key" ON "disputes"("order_id");

-- CreateIndex
CREATE INDEX "disputes_status_idx" ON "disputes"("status");

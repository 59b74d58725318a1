-- CreateTable
CREATE TABLE "payments" (
    "purpose" TEXT NOT NULL,
    "payment_hash" TEXT NOT NULL,
    "request" TEXT NOT NULL,
    "amount_sats" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "failure_reason" TEXT,
    "fee_sats" BIGINT NOT NULL DEFAULT 0,
    "dispatches" INTEGER NOT NULL DEFAULT 0,
    "created_at" BIGINT NOT NULL,
    "updated_at" BIGINT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("purpose")
);

-- CreateIndex
CREATE UNIQUE INDEX "payments_payment_hash_key" ON "payments"("payment_hash");

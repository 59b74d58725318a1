-- One live payment per obligation (issue 14): a payment that is pending, in flight or succeeded blocks every other
-- payment of the same debt until LND has said it failed.

-- DropIndex
DROP INDEX "payments_payment_hash_key";

-- AlterTable: existing rows owe what their purpose names, without the invoice sequence number.
ALTER TABLE "payments" ADD COLUMN     "obligation" TEXT;
UPDATE "payments" SET "obligation" = regexp_replace("purpose", ':[0-9]+$', '');
ALTER TABLE "payments" ALTER COLUMN "obligation" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "payments_one_live_per_obligation" ON "payments"("obligation") WHERE (status <> 'failed');

-- CreateIndex
CREATE UNIQUE INDEX "payments_one_live_per_hash" ON "payments"("payment_hash") WHERE (status <> 'failed');

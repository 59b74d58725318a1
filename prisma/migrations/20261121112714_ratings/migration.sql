-- CreateTable
CREATE TABLE "ratings" (
    "order_id" TEXT NOT NULL,
    "rater_side" TEXT NOT NULL,
    "rated_pubkey" TEXT NOT NULL,
    "rating" INTEGER NOT NULL,
    "created_at" BIGINT NOT NULL,

    CONSTRAINT "ratings_pkey" PRIMARY KEY ("order_id","rater_side")
);

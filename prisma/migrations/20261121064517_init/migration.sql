-- CreateTable
CREATE TABLE "users" (
    "pubkey" TEXT NOT NULL,
    "is_admin" BOOLEAN NOT NULL DEFAULT false,
    "is_solver" BOOLEAN NOT NULL DEFAULT false,
    "is_banned" BOOLEAN NOT NULL DEFAULT false,
    "category" INTEGER NOT NULL DEFAULT 0,
    "last_trade_index" BIGINT NOT NULL DEFAULT 0,
    "total_reviews" INTEGER NOT NULL DEFAULT 0,
    "total_rating" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "last_rating" INTEGER NOT NULL DEFAULT 0,
    "max_rating" INTEGER NOT NULL DEFAULT 0,
    "min_rating" INTEGER NOT NULL DEFAULT 0,
    "created_at" BIGINT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "users_pkey" PRIMARY KEY ("pubkey")
);

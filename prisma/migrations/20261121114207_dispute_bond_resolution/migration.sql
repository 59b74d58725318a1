-- AlterTable
ALTER TABLE "disputes" ADD COLUMN     "bond_resolution" TEXT;

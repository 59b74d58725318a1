// Prisma 7 configuration. The URL is only used by Prisma's CLI; the daemon builds its own driver adapters
// (src/db/database.ts), and migrations are applied by src/db/migrate.ts.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/mostro' },
});

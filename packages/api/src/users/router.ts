// People management (admin). Password hashes never leave this module.

import { offsetSchema, queryInt, searchSchema, versionSchema } from "@meridian/model";
import { z } from "zod";
import { hashPassword } from "../auth/crypto";
import { conflict, fieldError, isUniqueViolation, notFound } from "../errors";
import { commitChange, namedObjects } from "../revisions/commit";
import { adminProcedure, createTRPCRouter } from "../trpc";
import { userCreateInput, userOutput, userUpdateInput } from "./schemas";

const publicFields = {
  id: true,
  email: true,
  name: true,
  role: true,
  disabled: true,
  version: true,
  createdAt: true,
  updatedAt: true,
  updatedBy: true,
} as const;

export const usersRouter = createTRPCRouter({
  list: adminProcedure
    .meta({ openapi: { method: "GET", path: "/users", tags: ["users"] } })
    .input(
      z.object({
        search: searchSchema.optional(),
        limit: queryInt(1, 500).default(50),
        offset: offsetSchema,
      }),
    )
    .output(z.object({ items: z.array(userOutput), total: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const where = input.search ? { email: { contains: input.search, mode: "insensitive" as const } } : {};
      const [items, total] = await Promise.all([
        ctx.db.user.findMany({
          where,
          select: publicFields,
          orderBy: { email: "asc" },
          take: input.limit,
          skip: input.offset,
        }),
        ctx.db.user.count({ where }),
      ]);
      return { items, total };
    }),

  create: adminProcedure
    .meta({ openapi: { method: "POST", path: "/users", tags: ["users"] } })
    .input(userCreateInput)
    .output(userOutput)
    .mutation(async ({ ctx, input }) => {
      const passwordHash = await hashPassword(input.password);
      try {
        const { value } = await commitChange(
          ctx.db,
          ctx.actor,
          `create user ${input.email}`,
          async (tx, rec) => {
            const u = await tx.user.create({
              data: {
                email: input.email,
                name: input.name,
                role: input.role,
                passwordHash,
                updatedBy: ctx.actor.name,
              },
              select: publicFields,
            });
            rec.record({
              entityType: "User",
              entityId: u.id,
              entityName: u.email,
              action: "create",
              before: null,
              after: u,
            });
            return u;
          },
        );
        return value;
      } catch (err) {
        if (isUniqueViolation(err))
          throw fieldError(["email"], `a user with email ${input.email} already exists`);
        throw err;
      }
    }),

  update: adminProcedure
    .meta({ openapi: { method: "PATCH", path: "/users/{id}", tags: ["users"] } })
    .input(userUpdateInput)
    .output(userOutput)
    .mutation(async ({ ctx, input }) => {
      const passwordHash = input.password ? await hashPassword(input.password) : undefined;
      const { value } = await commitChange(ctx.db, ctx.actor, `update user`, async (tx, rec) => {
        const before = await tx.user.findUnique({ where: { id: input.id }, select: publicFields });
        if (!before) throw notFound(`user ${input.id}`);
        if (before.version !== input.version) throw conflict(`user ${before.email}`, before, input.version);
        if (before.id === ctx.caller.user.id && ((input.role && input.role !== "admin") || input.disabled)) {
          // An admin demoting or disabling themselves could leave nobody able to manage users.
          throw fieldError([input.role ? "role" : "disabled"], "you cannot demote or disable yourself");
        }
        const after = await tx.user.update({
          where: { id: input.id },
          data: {
            name: input.name,
            role: input.role,
            disabled: input.disabled,
            passwordHash,
            version: { increment: 1 },
            updatedBy: ctx.actor.name,
          },
          select: publicFields,
        });
        if (input.disabled || passwordHash) await tx.session.deleteMany({ where: { userId: input.id } });
        rec.record({
          entityType: "User",
          entityId: after.id,
          entityName: after.email,
          action: "update",
          before,
          after,
        });
        return after;
      });
      return value;
    }),

  delete: adminProcedure
    .meta({ openapi: { method: "DELETE", path: "/users/{id}", tags: ["users"] } })
    .input(z.object({ id: z.string().uuid(), version: versionSchema }))
    .output(z.object({ id: z.string(), revision: z.number().int().nullable() }))
    .mutation(async ({ ctx, input }) => {
      const { revision } = await commitChange(
        ctx.db,
        ctx.actor,
        (entries) => `delete user ${namedObjects(entries)}`,
        async (tx, rec) => {
          const before = await tx.user.findUnique({ where: { id: input.id }, select: publicFields });
          if (!before) throw notFound(`user ${input.id}`);
          if (before.version !== input.version) throw conflict(`user ${before.email}`, before, input.version);
          if (before.id === ctx.caller.user.id) throw fieldError(["id"], "you cannot delete yourself");
          await tx.user.delete({ where: { id: input.id } });
          rec.record({
            entityType: "User",
            entityId: before.id,
            entityName: before.email,
            action: "delete",
            before,
            after: null,
          });
        },
      );
      return { id: input.id, revision };
    }),
});

/**
 * type-graphql's `container`: a map from resolver class to the instance an app built with
 * its own services. No DI framework: the composition root (app.ts) fills it.
 */
export class ResolverContainer {
  private readonly instances = new Map<Function, unknown>();

  register<T>(type: abstract new (...args: never[]) => T, instance: T): this {
    this.instances.set(type, instance);
    return this;
  }

  get<T>(type: abstract new (...args: never[]) => T): T {
    const instance = this.instances.get(type);
    if (instance === undefined) throw new Error(`no instance registered for ${type.name}`);
    return instance as T;
  }
}

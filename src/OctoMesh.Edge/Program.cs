using System.CommandLine;
using OctoMesh.Edge.Cli;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Kestrel;

InlineIo.SetDefault();

// SIGTERM and Ctrl+C belong to the host (graceful stop), not to the command-line parser.
return await OctoMeshCommands.Create().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

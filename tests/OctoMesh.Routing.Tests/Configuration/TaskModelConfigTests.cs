using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class TaskModelConfigTests
{
    private static ConfigLoadResult Load(string taskModel) => ConfigLoader.Load(Encoding.UTF8.GetBytes(
        $$"""{ "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "taskModel": {{taskModel}} }"""), _ => null);

    [Fact]
    public void TheTaskModelNamesItsCentroids()
    {
        Assert.Equal(new TaskModelConfig("c.json", 0.6, "/v/wink.omv"), Load("""{ "centroids": "c.json", "minSimilarity": 0.6, "vectors": "/v/wink.omv" }""").Config!.TaskModel);
        Assert.Equal(new TaskModelConfig("c.json"), Load("""{ "centroids": "c.json" }""").Config!.TaskModel);
        Assert.Equal(
        [
            "$.taskModel.centroids: missing. Fix: write the file octomesh train-classifier wrote.",
            "$.taskModel.minSimilarity: 2 is not a similarity. Fix: write a number above -1 and at most 1, e.g. 0.5.",
        ], Load("""{ "minSimilarity": 2 }""").Errors.Select(e => e.ToString()));
    }
}

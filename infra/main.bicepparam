using './main.bicep'

param appName = 'batchendpoints'
param maximumInstanceCount = 100
param instanceMemoryMB = 4096

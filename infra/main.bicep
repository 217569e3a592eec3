// Deploys the batch endpoints Functions app: storage (task hub, records, models, data, outputs),
// monitoring, and a Linux function app on the Flex Consumption plan.
targetScope = 'resourceGroup'

@description('Prefix for resource names: 3-18 lowercase letters and digits.')
@minLength(3)
@maxLength(18)
param appName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Most instances the app may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance, in MB (2048 or 4096 on Flex Consumption).')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 4096

@description('Durable Functions task hub name (letters and digits); must match host.json.')
param taskHubName string = 'BatchEndpointsHub'

var suffix = uniqueString(resourceGroup().id, appName)
var storageName = toLower(take('${appName}${suffix}', 24))
var deploymentContainer = 'app-package-${take(suffix, 8)}'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    accessTier: 'Hot'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource packages 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource workspaceBlobStore 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'workspaceblobstore'
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// The app reads and writes its records, models and job outputs through AzureWebJobsStorage; the
// connection string is built here from the account's keys and never appears in the repository.
var storageConnection = 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: '${appName}-${take(suffix, 6)}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'StorageAccountConnectionString'
            storageAccountConnectionStringName: 'DEPLOYMENT_STORAGE_CONNECTION_STRING'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        {
          name: 'AzureWebJobsStorage'
          value: storageConnection
        }
        {
          name: 'DEPLOYMENT_STORAGE_CONNECTION_STRING'
          value: storageConnection
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          // The entry script is batch_app.py: a function_app.py would be shadowed by the function_app/ package.
          name: 'PYTHON_SCRIPT_FILE_NAME'
          value: 'batch_app.py'
        }
        {
          name: 'AzureFunctionsJobHost__extensions__durableTask__hubName'
          value: taskHubName
        }
      ]
    }
  }
  dependsOn: [
    packages
    workspaceBlobStore
  ]
}

output functionAppName string = app.name
output defaultHostName string = app.properties.defaultHostName
output storageAccountName string = storage.name

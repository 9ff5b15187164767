"""The AWS estate the end-to-end tests collect, seeded into moto through boto3.

Account ``MAIN`` (the test credentials' own) in two regions, a ``sandbox`` member account reached
by assuming a role, and a ``forgotten`` member account no source collects:

us-east-1 of MAIN
  checkout      python3.13, team=payments, alias live, behind an HTTP API route without auth
  public-hook   nodejs18.x (end of life), untagged, function URL with auth NONE, admin role,
                an environment variable named like a secret
  open-invoke   python3.13, team=platform, resource policy Principal * without condition
  ECS cluster prod (team=platform): service web (team=payments; nginx:latest privileged,
                public IP with a security group open to 0.0.0.0/0 on port 80, internet-facing
                load balancer), service worker (untagged; pinned ECR image, non-root,
                read-only root filesystem), service admin (team=platform; public IP, but its
                security group admits only 10.0.0.0/8 on the mapped port; an internal classic
                load balancer)
  EKS cluster lab: Kubernetes 1.27, public endpoint open to 0.0.0.0/0, no audit log, a node group
  ECR repository worker (team=payments) with image 1.4.2
eu-west-1 of MAIN
  eu-report     python3.13, team=data
us-east-1 of sandbox
  sandbox-fn    python3.8, untagged
"""

import io
import json
import zipfile
from dataclasses import dataclass, field

import boto3

MAIN = "123456789012"
ORG_ROLE = "DaylightReadOnly"
WORKER_IMAGE_TAG = "1.4.2"


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


def awsvpc(subnet: str, group: str, *, public_ip: bool) -> dict:
    """A Fargate task's network: one subnet and security group, with or without a public IP."""
    return {
        "awsvpcConfiguration": {
            "subnets": [subnet],
            "securityGroups": [group],
            "assignPublicIp": "ENABLED" if public_ip else "DISABLED",
        }
    }


@dataclass
class Estate:
    url: str
    sandbox: str = ""
    forgotten: str = ""
    arns: dict[str, str] = field(default_factory=dict)

    def client(self, service, region="us-east-1", credentials=None):
        return boto3.client(
            service, region_name=region, endpoint_url=self.url, **(credentials or {})
        )

    def assume(self, account: str) -> dict:
        found = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ORG_ROLE}", RoleSessionName="estate-seed"
        )["Credentials"]
        return {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }

    # --- seeding ------------------------------------------------------------------------------

    def seed(self):
        self.organization()
        self.main_us_east_1()
        self.main_eu_west_1()
        self.sandbox_us_east_1()
        return self

    def organization(self):
        org = self.client("organizations")
        org.create_organization(FeatureSet="ALL")
        self.sandbox = org.create_account(Email="sandbox@acme.example", AccountName="sandbox")[
            "CreateAccountStatus"
        ]["AccountId"]
        self.forgotten = org.create_account(
            Email="old-poc@acme.example", AccountName="forgotten-poc"
        )["CreateAccountStatus"]["AccountId"]
        org.tag_resource(ResourceId=self.sandbox, Tags=[{"Key": "team", "Value": "platform"}])

    def role(self, name, admin=False, credentials=None):
        iam = self.client("iam", credentials=credentials)
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        if admin:  # a customer managed policy that allows everything
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
            policy = iam.create_policy(
                PolicyName=f"{name}-all", PolicyDocument=json.dumps(document)
            )
            iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
        return arn

    def function(
        self, name, runtime, role, region="us-east-1", tags=None, env=None, credentials=None
    ):
        response = self.client("lambda", region, credentials).create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": code_zip()},
            Environment={"Variables": env or {"LOG_LEVEL": "info"}},
            Tags=tags or {},
        )
        self.arns[name] = response["FunctionArn"]
        return response["FunctionArn"]

    def main_us_east_1(self):
        plain, admin = self.role("fn-exec"), self.role("admin-exec", admin=True)
        lam = self.client("lambda")
        self.function("checkout", "python3.13", plain, tags={"team": "payments"})
        lam.publish_version(FunctionName="checkout")
        lam.create_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
        self.function(
            "public-hook",
            "nodejs18.x",
            admin,
            env={"STRIPE_API_KEY": "sk_test_not_a_real_key", "LOG_LEVEL": "debug"},
        )
        lam.create_function_url_config(FunctionName="public-hook", AuthType="NONE")
        self.function("open-invoke", "python3.13", plain, tags={"team": "platform"})
        lam.add_permission(
            FunctionName="open-invoke",
            StatementId="anyone",
            Action="lambda:InvokeFunction",
            Principal="*",
        )
        gateway = self.client("apigatewayv2")
        api = gateway.create_api(Name="shop", ProtocolType="HTTP")
        integration = gateway.create_integration(
            ApiId=api["ApiId"],
            IntegrationType="AWS_PROXY",
            IntegrationUri=self.arns["checkout"],
            PayloadFormatVersion="2.0",
        )
        gateway.create_route(
            ApiId=api["ApiId"],
            RouteKey="GET /orders",
            Target=f"integrations/{integration['IntegrationId']}",
            AuthorizationType="NONE",
        )
        self.containers()
        self.kubernetes()
        ecr = self.client("ecr")
        ecr.create_repository(repositoryName="worker", tags=[{"Key": "team", "Value": "payments"}])
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + "b" * 64,
            },
            "layers": [],
        }
        ecr.put_image(
            repositoryName="worker", imageManifest=json.dumps(manifest), imageTag=WORKER_IMAGE_TAG
        )

    def containers(self):
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        self.arns["web_group"] = group
        elb = self.client("elbv2")
        balancer = elb.create_load_balancer(
            Name="shop-public", Subnets=[subnet], Scheme="internet-facing"
        )["LoadBalancers"][0]
        target = elb.create_target_group(
            Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]
        elb.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": target["TargetGroupArn"]}],
        )
        self.arns["load_balancer_dns"] = balancer["DNSName"]
        ecs = self.client("ecs")
        self.arns["prod"] = ecs.create_cluster(
            clusterName="prod", tags=[{"key": "team", "value": "platform"}]
        )["cluster"]["clusterArn"]
        self.arns["web"] = self.fargate_service(
            {
                "name": "nginx",
                "image": "nginx:latest",
                "privileged": True,
                "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                "environment": [{"name": "UPSTREAM", "value": "checkout"}],
            },
            awsvpc(subnet, group, public_ip=True),
            family="web",
            desiredCount=2,
            loadBalancers=[
                {
                    "targetGroupArn": target["TargetGroupArn"],
                    "containerName": "nginx",
                    "containerPort": 80,
                }
            ],
            tags=[{"key": "team", "value": "payments"}],
        )
        self.arns["worker"] = self.fargate_service(
            {
                "name": "worker",
                "image": f"{MAIN}.dkr.ecr.us-east-1.amazonaws.com/worker:{WORKER_IMAGE_TAG}",
                "user": "1000:1000",
                "readonlyRootFilesystem": True,
            },
            awsvpc(subnet, group, public_ip=False),
            family="worker",
            desiredCount=1,
        )
        self.arns["subnet"] = subnet
        self.admin_service(vpc, subnet)

    def admin_service(self, vpc, subnet):
        """A public IP whose security group admits only the office network, behind an internal
        classic load balancer: reachable from inside, not from the internet."""
        ec2 = self.client("ec2")
        group = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)[
            "GroupId"
        ]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 8000,
                    "ToPort": 8999,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                },
                {  # open to the world, but on a port the service does not map
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                },
            ],
        )
        self.arns["admin_group"] = group
        classic = self.client("elb").create_load_balancer(
            LoadBalancerName="admin-internal",
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
            Subnets=[subnet],
            Scheme="internal",
        )
        self.arns["admin_elb_dns"] = classic["DNSName"]
        self.arns["admin"] = self.fargate_service(
            {
                "name": "admin",
                "image": f"{MAIN}.dkr.ecr.us-east-1.amazonaws.com/worker:{WORKER_IMAGE_TAG}",
                "user": "1000",
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            },
            awsvpc(subnet, group, public_ip=True),
            family="admin",
            desiredCount=1,
            loadBalancers=[
                {
                    "loadBalancerName": "admin-internal",
                    "containerName": "admin",
                    "containerPort": 8080,
                }
            ],
            tags=[{"key": "team", "value": "platform"}],
        )

    def fargate_service(self, container: dict, network: dict, *, family: str, **service) -> str:
        """A task definition ``family`` of one container (0.25 vCPU, 512 MiB) and a Fargate
        service of the same name running it in cluster prod; returns the service's ARN."""
        ecs = self.client("ecs")
        ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )
        return ecs.create_service(
            cluster="prod",
            serviceName=family,
            taskDefinition=family,
            launchType="FARGATE",
            networkConfiguration=network,
            **service,
        )["service"]["serviceArn"]

    def kubernetes(self):
        eks = self.client("eks")
        self.arns["lab"] = eks.create_cluster(
            name="lab",
            version="1.27",
            roleArn=f"arn:aws:iam::{MAIN}:role/eks-lab",
            resourcesVpcConfig={
                "subnetIds": [self.arns["subnet"]],
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
        )["cluster"]["arn"]
        eks.create_nodegroup(
            clusterName="lab",
            nodegroupName="general",
            subnets=[self.arns["subnet"]],
            nodeRole=f"arn:aws:iam::{MAIN}:role/eks-nodes",
        )

    def main_eu_west_1(self):
        role = f"arn:aws:iam::{MAIN}:role/fn-exec"
        self.function("eu-report", "python3.13", role, region="eu-west-1", tags={"team": "data"})

    def sandbox_us_east_1(self):
        credentials = self.assume(self.sandbox)
        role = self.role("sandbox-exec", credentials=credentials)
        self.function("sandbox-fn", "python3.8", role, credentials=credentials)

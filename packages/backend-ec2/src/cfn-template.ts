/**
 * The IAM CloudFormation template used by {@link setupAwsEc2}. The same text ships as
 * `cloudformation/scripthut-ec2-iam.yaml` at the repository root (a test asserts they are equal).
 */
export const EC2_IAM_TEMPLATE = `AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  ScriptHut EC2 backend IAM: the task instance role (SSM managed instance core, optional ECR read),
  its instance profile, and an unattached managed policy for the principal ScriptHut runs as.
Parameters:
  ResourcePrefix:
    Type: String
    Default: scripthut
    AllowedPattern: "[A-Za-z0-9+=,.@_-]{1,32}"
    Description: Prefix of every IAM resource name.
  EnableECRReadAccess:
    Type: String
    Default: "true"
    AllowedValues: ["true", "false"]
    Description: Let task instances pull images from ECR (AmazonEC2ContainerRegistryReadOnly).
Conditions:
  AttachECR: !Equals [!Ref EnableECRReadAccess, "true"]
Resources:
  TaskInstanceRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "\${ResourcePrefix}-ec2-task-\${AWS::Region}"
      Description: Assumed by ScriptHut task instances (SSM agent, optional ECR pulls).
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: ec2.amazonaws.com
            Action: sts:AssumeRole
      ManagedPolicyArns: !If
        - AttachECR
        - - !Sub "arn:\${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
          - !Sub "arn:\${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
        - - !Sub "arn:\${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
  TaskInstanceProfile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      InstanceProfileName: !Sub "\${ResourcePrefix}-ec2-task-\${AWS::Region}"
      Roles:
        - !Ref TaskInstanceRole
  ControllerPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: !Sub "\${ResourcePrefix}-ec2-controller-\${AWS::Region}"
      Description: Attach to the IAM user or role ScriptHut runs as (EC2 backend).
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: EC2Lifecycle
            Effect: Allow
            Action:
              - ec2:RunInstances
              - ec2:DescribeInstances
              - ec2:TerminateInstances
              - ec2:CreateTags
              - ec2:DescribeSubnets
              - ec2:DescribeSecurityGroups
            Resource: "*"
          - Sid: PassInstanceProfileRole
            Effect: Allow
            Action: iam:PassRole
            Resource: !GetAtt TaskInstanceRole.Arn
          - Sid: SSMSessionAndEphemeralKey
            Effect: Allow
            Action:
              - ssm:StartSession
              - ssm:TerminateSession
              - ssm:ResumeSession
              - ssm:DescribeSessions
              - ec2-instance-connect:SendSSHPublicKey
            Resource: "*"
Outputs:
  InstanceProfileArn:
    Description: backends[*].instance_profile_arn in scripthut.yaml
    Value: !GetAtt TaskInstanceProfile.Arn
  ScripthutControllerPolicyArn:
    Description: Attach to the IAM user/role ScriptHut runs as
    Value: !Ref ControllerPolicy
  TaskInstanceRoleArn:
    Description: The role task instances assume (referenced by iam:PassRole)
    Value: !GetAtt TaskInstanceRole.Arn
  TaskInstanceRoleName:
    Description: Attach extra policies the containers need (e.g. S3) to this role
    Value: !Ref TaskInstanceRole
`;
